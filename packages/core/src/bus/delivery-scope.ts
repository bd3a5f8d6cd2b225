// Which delivery's handler is running, for `bus.stop()` called from inside a handler: the drain
// must not wait for the very handler that awaits it. Two sources, both cheap:
// - the synchronous part of a handler (up to its first `await`) is marked by a plain variable;
// - past that, an AsyncLocalStorage, used only where Node builds it on AsyncContextFrame (Node 24
//   and later, or 22 with --experimental-async-context-frame). Elsewhere it enables async_hooks'
//   promise hooks for the whole process: on the in-memory bus, measured in events per CPU-second,
//   -18 % on Node 20 against -4 % (noise level) on Node 24. So there it is left out, and a handler
//   that awaits `bus.stop()` after its first await is not recognised (docs/getting-started.md).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DeliveryContext } from '../context/delivery';

/** True where AsyncLocalStorage rides on AsyncContextFrame (no promise hooks). */
export const cheapAsyncContext = !('_propagate' in AsyncLocalStorage.prototype);

let storage =
  cheapAsyncContext || process.env.TIDINGS_FORCE_ALS ? new AsyncLocalStorage<DeliveryContext>() : undefined;
if (process.env.TIDINGS_NO_ALS) storage = undefined;
let running: DeliveryContext | undefined;

/**
 * Runs `run(ctx)` as the delivery `ctx`: `currentDelivery()` finds it inside. `run` is given the
 * context, so that a caller needs no closure over it per delivery.
 */
export function runAsDelivery<TResult>(
  ctx: DeliveryContext,
  run: (ctx: DeliveryContext) => TResult,
): TResult {
  const previous = running;
  running = ctx;
  try {
    return storage === undefined ? run(ctx) : storage.run(ctx, run, ctx);
  } finally {
    running = previous;
  }
}

/** The delivery whose handler is running now, where it can be told; otherwise `undefined`. */
export function currentDelivery(): DeliveryContext | undefined {
  return running ?? storage?.getStore();
}
