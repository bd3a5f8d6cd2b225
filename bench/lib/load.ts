// How the benchmarks drive load: a fixed number of calls in flight, a paced open-loop sender, and
// a counter that resolves when enough deliveries arrived (with a timeout, so that a lost message
// fails the run instead of hanging it).
import { setTimeout as sleep } from 'node:timers/promises';

/** Runs `task(i)` for every i in [0, count), at most `limit` at once. */
export async function bounded(
  count: number,
  limit: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/**
 * Starts `task(i)` for every i in [0, count) at `ratePerSecond`, on schedule whether or not earlier
 * calls have finished (an open loop: a slow call does not slow the sender down, so queueing shows
 * up in the latencies instead of hiding in a lower rate). Resolves when every call has settled.
 */
export async function paced(
  count: number,
  ratePerSecond: number,
  task: (i: number) => Promise<unknown>,
): Promise<void> {
  const interval = 1000 / ratePerSecond;
  const started = performance.now();
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = started + i * interval - performance.now();
    // Timers are good to about a millisecond: shorter waits are sent at once, a little early.
    if (wait >= 1) await sleep(wait);
    calls.push(task(i));
  }
  await Promise.all(calls);
}

/** Counts hits and resolves `done` at `target`; `done` rejects after `timeoutMs` without it. */
export interface Countdown {
  hit(): void;
  readonly count: number;
  readonly done: Promise<void>;
}

export function countdown(target: number, timeoutMs: number, what: string): Countdown {
  let count = 0;
  let resolve!: () => void;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((ok, fail) => {
    resolve = ok;
    timer = setTimeout(
      () => fail(new Error(`${what}: ${count} of ${target} arrived in ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
  }).finally(() => clearTimeout(timer));
  if (target <= 0) resolve();
  return {
    hit() {
      if (++count === target) resolve();
    },
    get count() {
      return count;
    },
    done,
  };
}

/** What `promise` resolves to, or a rejection naming `what` after `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: no answer in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
