import type { MessageContext } from '../context/delivery';
import { checkInteger } from '../internal/options';
import type { Middleware } from './types';

/** Settings of the concurrency limit policy. */
export interface ConcurrencyLimitOptions {
  /** Most handlers running at once through this middleware instance (per key, if `key` is set). */
  readonly max: number;
  /**
   * Limits per key instead of overall, e.g. per customer: `(ctx) => ctx.event?.data.customerId`.
   * `undefined` from the function means no key: the overall limit applies.
   */
  readonly key?: (ctx: MessageContext) => string | undefined;
}

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  get idle(): boolean {
    return this.active === 0 && this.waiting.length === 0;
  }

  acquire(): Promise<void> | undefined {
    if (this.active < this.max) {
      this.active++;
      return undefined;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.active--;
  }
}

/**
 * The concurrency limit policy: at most `max` handlers run at once through this instance. Share
 * one instance between subscriptions to bound them together (say, calls to one rate-limited API),
 * or give it a `key` to bound each key separately. The subscription's own `concurrency` already
 * bounds how many records the broker hands out; this bounds the work itself.
 *
 * @example
 * ```ts
 * const mailer = concurrencyLimit({ max: 4 });
 * bus.subscribe(OrderPlaced, { group: 'email', middleware: [mailer] }, sendConfirmation);
 * bus.subscribe(OrderShipped, { group: 'email-shipping', middleware: [mailer] }, sendShippingNote);
 * ```
 */
export function concurrencyLimit(options: ConcurrencyLimitOptions): Middleware {
  const max = checkInteger('concurrencyLimit.max', options.max, 1);
  const overall = new Semaphore(max);
  const perKey = new Map<string, Semaphore>();
  const keyOf = options.key;
  return async (ctx, next) => {
    const key = keyOf?.(ctx);
    let semaphore = overall;
    if (key !== undefined) {
      let keyed = perKey.get(key);
      if (keyed === undefined) {
        keyed = new Semaphore(max);
        perKey.set(key, keyed);
      }
      semaphore = keyed;
    }
    const wait = semaphore.acquire();
    if (wait !== undefined) await wait;
    try {
      await next();
    } finally {
      semaphore.release();
      if (key !== undefined && semaphore.idle) perKey.delete(key);
    }
  };
}
