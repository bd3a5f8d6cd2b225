import {
  type Counter,
  createNoopMeter,
  type Histogram,
  type MeterProvider,
  metrics,
  type ObservableGauge,
} from '@opentelemetry/api';
import { INSTRUMENTATION_SCOPE, METRIC_NAMES } from './names';

/** @internal The bus's metric instruments. */
export interface Instruments {
  readonly sent: Counter;
  readonly publishDuration: Histogram;
  readonly consumed: Counter;
  readonly processDuration: Histogram;
  readonly retried: Counter;
  readonly deadLettered: Counter;
  readonly latency: Histogram;
  readonly lag: ObservableGauge;
}

// The no-op meter hands out one shared instrument per kind: comparing with it tells whether an SDK
// is behind a meter, so the bus can skip clocks and attribute objects nobody would read.
const NOOP_COUNTER = createNoopMeter().createCounter('noop');

// The semantic conventions' advice for messaging durations, in seconds.
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
// End-to-end latency includes retry delays and backlogs, so its buckets reach further.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * @internal Creates the instruments from `provider` (default: the global one); `undefined` when
 * the provider is the no-op one, i.e. no metrics SDK is registered yet.
 */
export function createInstruments(provider: MeterProvider | undefined): Instruments | undefined {
  const meter = (provider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE);
  const sent = meter.createCounter(METRIC_NAMES.sent, {
    description: 'Events the broker accepted from this process.',
    unit: '{message}',
  });
  if (sent === NOOP_COUNTER) return undefined;
  return {
    sent,
    publishDuration: meter.createHistogram(METRIC_NAMES.publishDuration, {
      description: 'Duration of publish calls to the broker.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    consumed: meter.createCounter(METRIC_NAMES.consumed, {
      description: 'Deliveries to consumer groups, by settlement.',
      unit: '{message}',
    }),
    processDuration: meter.createHistogram(METRIC_NAMES.processDuration, {
      description: 'Duration of the consume pipeline (decode, policies, handler) for one delivery.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    retried: meter.createCounter(METRIC_NAMES.retried, {
      description: 'Deliveries that failed and were scheduled for another attempt.',
      unit: '{message}',
    }),
    deadLettered: meter.createCounter(METRIC_NAMES.deadLettered, {
      description: 'Events moved to a dead-letter topic.',
      unit: '{message}',
    }),
    latency: meter.createHistogram(METRIC_NAMES.latency, {
      description: "Time from the event's time to the end of its last delivery to a consumer group.",
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    }),
    lag: meter.createObservableGauge(METRIC_NAMES.lag, {
      description:
        'Events a consumer group has not settled yet (waiting or in handlers), where the adapter can tell.',
      unit: '{message}',
    }),
  };
}

/**
 * @internal Values (attribute sets) by two string keys, built once: metrics are recorded per
 * message, and a fresh object (and string key) each time would be most of their cost.
 */
export class PairCache<T> {
  private readonly values = new Map<string, Map<string, T>>();

  constructor(private readonly build: (first: string, second: string) => T) {}

  get(first: string, second: string): T {
    let inner = this.values.get(first);
    if (inner === undefined) {
      inner = new Map();
      this.values.set(first, inner);
    }
    let value = inner.get(second);
    if (value === undefined) {
      value = this.build(first, second);
      inner.set(second, value);
    }
    return value;
  }
}
