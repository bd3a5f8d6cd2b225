import type { DeliveryContext, MessageContext } from '../context/delivery';
import { TimeoutError } from '../errors';

interface Watch {
  readonly deadline: number;
  readonly ctx: MessageContext;
  readonly fail: (error: TimeoutError) => void;
}

/**
 * The handler timeout policy (the `timeoutMs` subscription option): when the work of a delivery
 * (idempotency, the subscription's middleware and the handler) has not finished within the limit,
 * it fails with a `TimeoutError` (which the failure decision retries) and `ctx.signal` is aborted.
 * A handler cannot be killed: one that ignores its signal runs on in the background, so keep
 * handlers idempotent. Work that finished synchronously is never timed out.
 *
 * Deadlines are checked by one timer per subscription rather than one per message, so a timeout
 * fires up to a tenth of the limit (at most one second) late.
 */
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
