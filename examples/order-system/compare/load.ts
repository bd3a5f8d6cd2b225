// The load generators. A closed loop (`runLoad`): `users` virtual customers, each placing an
// order, waiting for the answer, and placing the next at once, for a fixed time; it is how a fixed
// pool of clients behaves: throughput is what the system lets through, and latency is what each
// customer waits. An open loop (`runOpenLoop`): orders arrive at a fixed rate whatever the system
// does, as customers on a web shop do; every design then gets the same orders, which is what a
// comparison of cost per order or of failure shares needs.

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

/** How one customer request of an open loop ended. */
export type Outcome = 'ok' | 'error' | 'late';

/** One measured open-loop run. */
export interface OpenLoopResult {
  readonly ratePerSecond: number;
  readonly durationMs: number;
  /** Requests sent. */
  readonly offered: number;
  readonly ok: number;
  /** Answered with anything but 2xx, or not at all (a refused connection). */
  readonly errors: number;
  /** Not answered by the deadline (abandoned then). */
  readonly late: number;
  /** Latencies of every request, sorted; a late one counts as the deadline. */
  readonly latenciesMs: readonly number[];
  /** The outcome of each customer request, by its customer (the e-mail address of the order). */
  readonly outcomes: Readonly<Record<string, Outcome>>;
}

/** Settings of {@link runOpenLoop}. */
export interface OpenLoopOptions {
  readonly url: string;
  readonly ratePerSecond: number;
  readonly durationMs: number;
  /** The customer gives up after this long; the request counts as late. */
  readonly deadlineMs: number;
  /** Names the customers of this run (`order<n>.<tag>@example.com`); the same tag, the same customers. */
  readonly tag: string;
}

/** The customer of the `n`-th order of an open loop. */
export function customerOf(tag: string, n: number): string {
  return `order${n}.${tag}@example.com`;
}

/**
 * Sends orders to `POST <url>/orders` at a fixed rate, evenly spaced, for `durationMs`, without
 * waiting for answers; then waits for the last answer (or its deadline).
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const total = Math.round((options.ratePerSecond * options.durationMs) / 1000);
  const interval = 1000 / options.ratePerSecond;
  const latencies: number[] = [];
  const outcomes: Record<string, Outcome> = {};
  let ok = 0;
  let errors = 0;
  let late = 0;
  const started = performance.now();

  const send = async (n: number): Promise<void> => {
    const customer = customerOf(options.tag, n);
    const t0 = performance.now();
    let outcome: Outcome;
    try {
      const response = await fetch(`${options.url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          customerEmail: customer,
          lines: [{ sku: SKUS[n % SKUS.length], quantity: 1 }],
        }),
        signal: AbortSignal.timeout(options.deadlineMs),
      });
      await response.arrayBuffer();
      outcome = response.ok ? 'ok' : 'error';
    } catch (error) {
      outcome = error instanceof DOMException && error.name === 'TimeoutError' ? 'late' : 'error';
    }
    latencies.push(outcome === 'late' ? options.deadlineMs : performance.now() - t0);
    outcomes[customer] = outcome;
    if (outcome === 'ok') ok++;
    else if (outcome === 'late') late++;
    else errors++;
  };

  const inFlight: Promise<void>[] = [];
  for (let n = 0; n < total; n++) {
    // Sleep until the n-th arrival is due; a late timer sends what is due at once.
    const due = started + n * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(send(n));
  }
  await Promise.all(inFlight);
  return {
    ratePerSecond: options.ratePerSecond,
    durationMs: performance.now() - started,
    offered: total,
    ok,
    errors,
    late,
    latenciesMs: latencies.sort((a, b) => a - b),
    outcomes,
  };
}
