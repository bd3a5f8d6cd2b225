/** Which side of a comparison a row measures. */
export type Impl = 'raw' | 'tidings';

/**
 * The Tidings lanes of a broker: `default` subscribes with no options at all (what a user gets:
 * the bus's default concurrency, ordering by key where the adapter orders), `tuned` matches the
 * raw consumer (concurrency = its prefetch or batch, ordering 'none').
 */
export type TidingsLaneName = 'default' | 'tuned';

/** One measured row, as written to bench/results/latest.json. */
export interface BenchResult {
  /** What was measured: 'publish', 'consume', 'e2e-latency', 'serial-latency', 'pipeline-zod', ... */
  readonly scenario: string;
  /** 'memory', 'kafka', 'rabbitmq', 'nats', 'redis' or 'postgres→<broker>'. */
  readonly broker: string;
  /** The broker's own client used as its docs recommend, or the same work through Tidings. */
  readonly impl: Impl;
  /**
   * Which lane of that side, when a broker has several: a raw client or way of using it
   * ('kafkajs', 'platformatic', 'kafkajs-per-record', ...), or a {@link TidingsLaneName}. Absent on
   * rows of suites with one lane a side (memory, tracing, outbox) and in results written before
   * broker benchmarks had lanes; those read as raw 'raw' and Tidings 'tuned'.
   */
  readonly lane?: string;
  /** On a Tidings row: the raw lane its ratio divides by (the raw lane of the client it runs on). */
  readonly baseline?: string;
  readonly messages: number;
  readonly messageBytes: number;
  /** Throughput; for a latency scenario the rate the messages were sent at. */
  readonly msgsPerSec: number;
  /** Latency percentiles in milliseconds; null for pure throughput scenarios. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** Options every benchmark module's `run` receives. */
export interface BenchOptions {
  /** Messages per throughput round. */
  readonly messages: number;
  /** A short run, for CI: fewer messages and rounds. */
  readonly quick: boolean;
}

/** The value at percentile `p` (0..100) of `values`, by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Rounds a latency for the report: microsecond precision is all a 2-core machine can tell. */
export function ms(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * The median of several measurements (the upper middle of an even count), which keeps one noisy
 * round from deciding the result.
 */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** What identifies a row besides its figures. */
export interface RowKey {
  readonly scenario: string;
  readonly broker: string;
  readonly impl: Impl;
  readonly lane?: string;
  readonly baseline?: string;
  readonly messageBytes: number;
}

/** A throughput row: the median of the rounds' rates, in messages per second. */
export function throughputRow(key: RowKey, messages: number, rates: readonly number[]): BenchResult {
  return { ...key, messages, msgsPerSec: Math.round(median(rates)), p50Ms: null, p99Ms: null };
}

/**
 * A latency row from each round's samples (milliseconds): the median over rounds of each round's
 * p50 and p99, so that one round's stall does not stand for the run. `rate` is what the samples
 * were sent at; without it, the rate of one message at a time (1000 / mean latency).
 */
export function latencyRow(key: RowKey, rounds: readonly (readonly number[])[], rate?: number): BenchResult {
  const all = rounds.flat();
  const mean = all.reduce((sum, value) => sum + value, 0) / all.length;
  return {
    ...key,
    messages: Math.round(all.length / Math.max(1, rounds.length)),
    msgsPerSec: Math.round(rate ?? 1000 / mean),
    p50Ms: ms(median(rounds.map((samples) => percentile(samples, 50)))),
    p99Ms: ms(median(rounds.map((samples) => percentile(samples, 99)))),
  };
}

/** The lane of `row`, with rows written before lanes read as raw 'raw' and Tidings 'tuned'. */
export function laneOf(row: Pick<BenchResult, 'impl' | 'lane'>): string {
  return row.lane ?? (row.impl === 'raw' ? 'raw' : 'tuned');
}

/** The raw lane a Tidings row divides by ('raw' for rows written before lanes). */
export function baselineOf(row: Pick<BenchResult, 'baseline'>): string {
  return row.baseline ?? 'raw';
}

/**
 * The row of `broker`, `scenario`, `impl` and `lane` in `results` (see {@link laneOf}).
 *
 * @example
 * ```ts
 * const tuned = findRow(results, 'kafka', 'consume', 'tidings', 'tuned');
 * ```
 */
export function findRow(
  results: readonly BenchResult[],
  broker: string,
  scenario: string,
  impl: Impl,
  lane: string,
): BenchResult | undefined {
  return results.find(
    (r) => r.broker === broker && r.scenario === scenario && r.impl === impl && laneOf(r) === lane,
  );
}
