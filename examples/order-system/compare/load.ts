// A closed-loop load generator: `users` virtual customers, each placing an order, waiting for the
// answer, and placing the next at once, for a fixed time. A closed loop is how a fixed pool of
// clients (or callers with one request in flight each) behaves: throughput is what the system
// lets through, and latency is what each customer waits.

/** One measured load level. */
export interface LoadResult {
  readonly users: number;
  readonly durationMs: number;
  /** Answers by status class: ok (2xx) and errors (anything else, or no answer). */
  readonly ok: number;
  readonly errors: number;
  /** Latencies of every answered request, in milliseconds, sorted. */
  readonly latenciesMs: readonly number[];
  /** Latencies of the 2xx answers only. */
  readonly okLatenciesMs: readonly number[];
}

/** Settings of {@link runLoad}. */
export interface LoadOptions {
  readonly url: string;
  readonly users: number;
  readonly durationMs: number;
  /** Abandon a request after this long; counted as an error. Default 30,000 ms. */
  readonly requestTimeoutMs?: number;
}

const SKUS = ['tea-tin', 'teapot-blue', 'cup-white', 'kettle-steel'] as const;

function orderBody(user: number, n: number): string {
  return JSON.stringify({
    customerEmail: `user${user}.${n}@example.com`,
    lines: [{ sku: SKUS[(user + n) % SKUS.length], quantity: 1 + (n % 3) }],
  });
}

/**
 * Runs `users` closed loops against `POST <url>/orders` for `durationMs`. Requests still in flight
 * when the time is up are awaited and counted (they were started within the window).
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const latencies: number[] = [];
  const okLatencies: number[] = [];
  let ok = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + options.durationMs;

  const user = async (id: number): Promise<void> => {
    for (let n = 0; performance.now() < deadline; n++) {
      const t0 = performance.now();
      try {
        const response = await fetch(`${options.url}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: orderBody(id, n),
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.arrayBuffer();
        const ms = performance.now() - t0;
        latencies.push(ms);
        if (response.ok) {
          ok++;
          okLatencies.push(ms);
        } else {
          errors++;
        }
      } catch {
        errors++;
        latencies.push(performance.now() - t0);
      }
    }
  };

  await Promise.all(Array.from({ length: options.users }, (_, i) => user(i)));
  const sort = (values: number[]) => values.sort((a, b) => a - b);
  return {
    users: options.users,
    durationMs: performance.now() - started,
    ok,
    errors,
    latenciesMs: sort(latencies),
    okLatenciesMs: sort(okLatencies),
  };
}

/** The `p`-th percentile (0–100) of sorted values, nearest rank; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
