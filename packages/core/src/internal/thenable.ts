/**
 * @internal Whether `value` is a promise or any other thenable: what a handler returns when it has
 * not finished yet (a synchronous handler returns anything else).
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    ((typeof value === 'object' && value !== null) || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
