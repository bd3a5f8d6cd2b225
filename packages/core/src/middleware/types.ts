import type { MessageContext } from '../context/delivery';

/** Calls the rest of the pipeline; resolves when it has finished with the message. */
export type Next = () => Promise<void>;

/**
 * A step of the consume pipeline, in onion order: code before `await next()` runs on the way in,
 * code after it on the way out, and a `try`/`catch` around it sees the failures of every inner
 * step and of the handler. A middleware decides the record's fate by setting `ctx.settlement`, or
 * by throwing for an outer step to handle.
 *
 * @example
 * ```ts
 * const logTimings: Middleware = async (ctx, next) => {
 *   const started = performance.now();
 *   try {
 *     await next();
 *   } finally {
 *     console.log(ctx.record.topic, ctx.settlement?.type ?? 'ack', performance.now() - started);
 *   }
 * };
 * ```
 */
export type Middleware = (ctx: MessageContext, next: Next) => Promise<void>;

/**
 * Composes onion-style steps around a terminal step into one function, built once (per
 * subscription, or per bus for publish middleware) rather than per message.
 */
export function compose<TContext>(
  layers: readonly ((ctx: TContext, next: () => Promise<void>) => Promise<void>)[],
  terminal: (ctx: TContext) => Promise<void>,
): (ctx: TContext) => Promise<void> {
  let run = terminal;
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    const next = run;
    run = (ctx) => layer(ctx, () => next(ctx));
  }
  return run;
}
