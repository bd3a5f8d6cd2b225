import type { MessageContext } from '../context/delivery';
import { ConfigError, TidingsError } from '../errors';
import type { IdempotencyStore } from '../idempotency/store';
import { checkInteger } from '../internal/options';
import type { Middleware } from '../middleware/types';

/** Settings of the idempotent-consumer policy. */
export interface IdempotencyOptions {
  /** Where handled keys are remembered. */
  readonly store: IdempotencyStore;
  /** The deduplication key of a message. Default: `<group>:<event id>`. */
  readonly key?: (ctx: MessageContext) => string;
  /**
   * How long a claim holds while the handler runs, in milliseconds; after it, another delivery may
   * take over (the first consumer is presumed dead). Keep it above the handler timeout.
   * Default 60,000.
   */
  readonly leaseMs?: number;
  /** How long a handled key is remembered, in milliseconds. Default 86,400,000 (one day). */
  readonly ttlMs?: number;
}

/** Another delivery of the same message is being handled right now; this one retries later. */
export class DuplicateInProgressError extends TidingsError {
  override readonly name = 'DuplicateInProgressError';
  readonly key: string;

  constructor(key: string) {
    super('DUPLICATE_IN_PROGRESS', `message ${key} is being handled by another consumer; retrying later`);
    this.key = key;
  }
}

const defaultKey = (ctx: MessageContext): string => `${ctx.group}:${ctx.event?.id ?? ctx.record.position}`;

/**
 * The idempotent-consumer policy: claims the message's key before the handler runs, marks it
 * done after success and releases it after failure. A message already done is acknowledged
 * without running the handler (`ctx.duplicate` is set); one that another consumer is handling
 * right now fails with a retryable `DuplicateInProgressError`, so it comes back later and is
 * then skipped or handled.
 *
 * It narrows duplicates to the window between the handler's effect and `complete`; for an
 * exactly-once effect, use a store that joins the handler's own database transaction.
 *
 * @example
 * ```ts
 * const store = createMemoryIdempotencyStore();
 * bus.subscribe(OrderPlaced, { group: 'email', idempotency: { store } }, sendConfirmation);
 * ```
 */
export function idempotency(options: IdempotencyOptions): Middleware {
  const { store } = options;
  if (store === undefined || typeof store.claim !== 'function') {
    throw new ConfigError('idempotency.store', 'an IdempotencyStore is required');
  }
  const keyOf = options.key ?? defaultKey;
  const leaseMs = checkInteger('idempotency.leaseMs', options.leaseMs ?? 60_000, 1);
  const ttlMs = checkInteger('idempotency.ttlMs', options.ttlMs ?? 86_400_000, 1);
  return async (ctx, next) => {
    const key = keyOf(ctx);
    const claim = await store.claim(key, leaseMs);
    if (claim === 'done') {
      ctx.duplicate = true;
      return;
    }
    if (claim === 'busy') throw new DuplicateInProgressError(key);
    try {
      await next();
    } catch (error) {
      await store.release(key);
      throw error;
    }
    await store.complete(key, ttlMs);
  };
}
