/** One measured row, as written to bench/results/latest.json. */
export interface BenchResult {
  /** What was measured: 'publish', 'consume', 'e2e-latency', 'serial-latency', 'pipeline-zod', ... */
  readonly scenario: string;
  /** 'memory', 'kafka', 'rabbitmq', 'nats', 'redis' or 'postgres→<broker>'. */
  readonly broker: string;
  /** The broker's own client used as its docs recommend, or the same work through Tidings. */
  readonly impl: 'raw' | 'tidings';
  readonly messages: number;
  readonly messageBytes: number;
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

/** The median of several measurements, which keeps one noisy round from deciding the result. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}
