import type { DeliveryContext, MessageContext } from '../bus/context';
import { TimeoutError } from '../errors';
import { checkInteger } from '../internal/options';
import type { Middleware } from './types';

/** Settings of the handler timeout policy. */
export interface TimeoutOptions {
  /** How long the inner steps and the handler may take, in milliseconds. */
  readonly ms: number;
}

interface Watch {
  readonly deadline: number;
  readonly ctx: MessageContext;
  readonly fail: (error: TimeoutError) => void;
}

/**
 * The handler timeout policy: when the inner steps and the handler have not finished within
 * `ms`, it fails them with a `TimeoutError` (which the retry policy retries) and aborts
 * `ctx.signal`. A handler cannot be killed: one that ignores its signal runs on in the
 * background, so keep handlers idempotent.
 *
 * Deadlines are checked by one timer per policy instance rather than one per message, so a
 * timeout fires up to a tenth of `ms` (at most one second) late.
 *
 * @example
 * ```ts
 * bus.subscribe(OrderPlaced, { group: 'email', timeoutMs: 10_000 }, async (event, ctx) => {
 *   await fetch(mailerUrl, { method: 'POST', body: JSON.stringify(event.data), signal: ctx.signal });
 * });
 * ```
 */
export function timeout(options: TimeoutOptions): Middleware {
  const guard = createTimeoutGuard(checkInteger('timeout.ms', options.ms, 1));
  return (ctx, next) => {
    const started = Date.now();
    let inner: Promise<unknown>;
    try {
      inner = next();
    } catch (error) {
      inner = Promise.reject(error);
    }
    return guard(ctx, started, inner);
  };
}

/**
 * @internal Watches inner work that started at `started` (a `Date.now()` value): the promise it
 * returns settles with `inner`, or rejects with a `TimeoutError` (and aborts the context) when
 * `inner` has not settled `ms` after `started`. One guard per policy instance: its deadlines are
 * checked by one timer rather than one per message. Work that finished synchronously needs no
 * guard: the timer cannot fire before the promise of such work settles.
 */
export type TimeoutGuard = (ctx: MessageContext, started: number, inner: Promise<unknown>) => Promise<void>;

/** @internal Makes a {@link TimeoutGuard} for a timeout of `ms` milliseconds (already checked). */
export function createTimeoutGuard(ms: number): TimeoutGuard {
  const watches = new Set<Watch>();
  const period = Math.min(1_000, Math.max(5, Math.floor(ms / 10)));
  let timer: NodeJS.Timeout | undefined;

  const sweep = (): void => {
    const now = Date.now();
    for (const watch of watches) {
      if (watch.deadline > now) continue;
      watches.delete(watch);
      watch.fail(new TimeoutError(`handler for ${watch.ctx.record.topic} took longer than ${ms} ms`, ms));
    }
    if (watches.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return (ctx, started, inner) =>
    // One promise per delivery that settles with the inner steps or with the timeout, whichever
    // comes first; cheaper than Promise.race over a second promise.
    new Promise<void>((resolve, reject) => {
      const watch: Watch = {
        deadline: started + ms,
        ctx,
        fail: (error) => {
          (ctx as DeliveryContext).abort?.(error);
          reject(error);
        },
      };
      watches.add(watch);
      if (timer === undefined) {
        timer = setInterval(sweep, period);
        timer.unref();
      }
      inner.then(
        () => {
          watches.delete(watch);
          resolve();
        },
        (error: unknown) => {
          watches.delete(watch);
          reject(error);
        },
      );
    });
}
