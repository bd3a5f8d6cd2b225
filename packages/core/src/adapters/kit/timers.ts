/**
 * Resolves `true` after `ms`, or `false` as soon as `signal` aborts (at once if it has): the wait
 * between two tries of a backoff, which a close must be able to cut short.
 *
 * @example
 * ```ts
 * while (!(await tryAgain())) {
 *   if (!(await sleep(delayMs, closing.signal))) return; // closed meanwhile
 * }
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles as `promise` does, or rejects with `onTimeout()` when it has not settled within `ms`;
 * the timer is cleared either way. `onLate`, when given, sees how a promise that lost the race
 * settled after all (a publish confirmed too late), so that nothing it did goes unnoticed.
 *
 * @example
 * ```ts
 * await withTimeout(channel.waitForConfirms(), 10_000, () => new TimeoutError('no confirm', 10_000));
 * ```
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout: () => Error,
  onLate?: (outcome: { readonly value?: T; readonly error?: unknown }) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(onTimeout());
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (timedOut) onLate?.({ value });
        else resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (timedOut) onLate?.({ error });
        else reject(error);
      },
    );
  });
}
