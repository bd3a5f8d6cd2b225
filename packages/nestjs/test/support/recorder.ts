/** What a handler saw, with a way to wait for it instead of sleeping. */
export class Recorder<T = string> {
  readonly seen: T[] = [];
  private waiters: { readonly count: number; readonly resolve: () => void }[] = [];

  add(value: T): void {
    this.seen.push(value);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.seen.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves once `count` values were added; the timeout is a safety net, not a sleep. */
  until(count: number, timeoutMs = 10_000): Promise<T[]> {
    if (this.seen.length >= count) return Promise.resolve(this.seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `saw ${this.seen.length} of ${count} within ${timeoutMs} ms: ${JSON.stringify(this.seen)}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.seen);
        },
      });
    });
  }
}

/** A promise to resolve from outside, e.g. to hold a handler until the test lets it go. */
export function latch(): { readonly promise: Promise<void>; readonly open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}
