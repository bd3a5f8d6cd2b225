const aborted = new WeakMap<AbortSignal, Promise<void>>();

/**
 * A promise that resolves when `signal` aborts (at once if it already has). One listener per
 * signal however many callers wait on it, so a close that passes one signal to many
 * subscriptions does not pile up listeners.
 */
export function whenAborted(signal: AbortSignal): Promise<void> {
  let promise = aborted.get(signal);
  if (promise === undefined) {
    promise = signal.aborted
      ? Promise.resolve()
      : new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    aborted.set(signal, promise);
  }
  return promise;
}
