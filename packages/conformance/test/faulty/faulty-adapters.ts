import { createMemoryAdapter, type MemoryBroker } from '@tidings/core';
import type {
  BrokerAdapter,
  ConsumerLagReporter,
  RecordHandler,
  Settlement,
  SettlementObserver,
  SubscribeSpec,
} from '@tidings/core/adapter';

/** The ways a broken adapter can break. */
export type Fault =
  | 'lossy'
  | 'reordering'
  | 'no-redelivery'
  | 'lag-ignores-in-flight'
  | 'unreported-dead-letter'
  | 'one-at-a-time'
  | 'handlers-up-to-prefetch';

/**
 * Wraps the in-memory adapter so that it breaks one promise of the contract while still claiming
 * to keep it: the suite must notice.
 */
export function faultyAdapter(fault: Fault, broker: MemoryBroker): BrokerAdapter {
  const inner = createMemoryAdapter({ broker });
  let published = 0;
  return {
    name: `faulty-${fault}`,
    // The wrapper passes no operations through (it implements neither optional interface).
    capabilities: {
      ...inner.capabilities,
      operations: {
        deadLetters: 'the faulty wrapper has no store',
        replay: 'the faulty wrapper has no replay',
      },
    },
    get state() {
      return inner.state;
    },
    connect: () => inner.connect(),
    close: (options) => inner.close(options),
    publish(records) {
      if (fault !== 'lossy') return inner.publish(records);
      // Says every record was stored; silently drops one in fifty.
      return inner.publish(records.filter(() => ++published % 50 !== 0));
    },
    subscribe(spec: SubscribeSpec, handler: RecordHandler, observer?: SettlementObserver) {
      if (fault === 'reordering') {
        // Claims key ordering, but lets records of a key overtake each other.
        const shuffled: RecordHandler = async (record) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
          return handler(record);
        };
        return inner.subscribe(
          {
            ...spec,
            ordering: 'none',
            concurrency: Math.max(spec.concurrency, 8),
            prefetch: Math.max(spec.prefetch, 8),
          },
          shuffled,
          observer,
        );
      }
      if (fault === 'no-redelivery') {
        // Treats a retry as done.
        const forgetful: RecordHandler = async (record) => {
          const settlement: Settlement = await handler(record);
          return settlement.type === 'retry' ? { type: 'ack' } : settlement;
        };
        return inner.subscribe(spec, forgetful, observer);
      }
      // Ignores the concurrency and prefetch it was asked for: one record at a time, so no batch ever fills.
      if (fault === 'one-at-a-time') return inner.subscribe({ ...spec, concurrency: 1 }, handler, observer);
      // Runs a handler for every record it holds: the prefetch taken for the concurrency.
      if (fault === 'handlers-up-to-prefetch') {
        return inner.subscribe({ ...spec, concurrency: spec.prefetch }, handler, observer);
      }
      if (fault === 'lag-ignores-in-flight') return lagIgnoringInFlight(inner, spec, handler, observer);
      // Stores dead letters but never says so: the core could not tell when they landed.
      if (fault === 'unreported-dead-letter') return inner.subscribe(spec, handler);
      return inner.subscribe(spec, handler, observer);
    },
  };
}

/** Reports as lag only the records not delivered yet, as if a record in a handler were settled. */
async function lagIgnoringInFlight(
  inner: BrokerAdapter,
  spec: SubscribeSpec,
  handler: RecordHandler,
  observer: SettlementObserver | undefined,
) {
  let inFlight = 0;
  const counting: RecordHandler = async (record) => {
    inFlight += 1;
    try {
      return await handler(record);
    } finally {
      inFlight -= 1;
    }
  };
  const subscription = await inner.subscribe(spec, counting, observer);
  const reporter = subscription as typeof subscription & ConsumerLagReporter;
  const lag = reporter.lag.bind(reporter);
  return Object.assign(subscription, {
    lag: async () => (await lag()).map((entry) => ({ ...entry, messages: entry.messages - inFlight })),
  });
}
