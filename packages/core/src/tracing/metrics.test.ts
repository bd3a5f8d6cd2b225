import type { Histogram } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import { delegatingAdapter } from '../../test/support/delegating-adapter';
import { createTestSdk, type TestSdk } from '../../test/support/otel';
import type { AdapterSubscription, RecordHandler, SubscribeSpec } from '../adapters/contract';
import { createMemoryAdapter } from '../adapters/memory/adapter';
import { createMemoryBroker } from '../adapters/memory/broker';
import type { ConsumerLag, ConsumerLagReporter } from '../adapters/optional';
import { createBus } from '../bus/bus';
import { batchEntry } from '../context/publish';
import { createTestBus, type TestBus } from '../testing/harness';
import { METRIC_NAMES } from './names';

let sdk: TestSdk;
const buses: { stop(): Promise<void> }[] = [];

beforeEach(() => {
  sdk = createTestSdk();
});
afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.stop()));
  await sdk.shutdown();
});

function meteredBus(): TestBus {
  const bus = createTestBus({ telemetry: { meterProvider: sdk.meterProvider, traces: false } });
  buses.push(bus);
  return bus;
}

describe('metrics', () => {
  it('counts published, consumed by settlement, retried and dead-lettered events', async () => {
    const bus = meteredBus();
    bus.subscribe(
      OrderPlaced,
      { group: 'email', retry: { maxAttempts: 2, initialDelayMs: 1, jitter: 0 } },
      (event, ctx) => {
        if (event.data.orderId === 'poison' || (event.data.orderId === 'flaky' && ctx.attempt === 1)) {
          throw new TypeError('mailer down');
        }
      },
    );
    await bus.start();
    await bus.publish(OrderPlaced, order('ok'));
    await bus.publishBatch([
      batchEntry(OrderPlaced, order('flaky')),
      batchEntry(OrderPlaced, order('poison')),
    ]);
    await bus.waitFor({ group: 'email', outcome: 'handled' }, { count: 2 });
    await bus.waitFor({ group: 'email', outcome: 'deadLettered' });

    const email = { 'messaging.consumer.group.name': 'email', 'messaging.destination.name': 'order.placed' };
    expect(await sdk.total(METRIC_NAMES.sent, { 'messaging.destination.name': 'order.placed' })).toBe(3);
    expect(await sdk.total(METRIC_NAMES.publishDuration)).toBe(2); // two calls: one publish, one batch
    expect(await sdk.total(METRIC_NAMES.consumed, { ...email, 'tidings.settlement': 'ack' })).toBe(2);
    expect(await sdk.total(METRIC_NAMES.consumed, { ...email, 'tidings.settlement': 'retry' })).toBe(2);
    expect(await sdk.total(METRIC_NAMES.consumed, { ...email, 'tidings.settlement': 'dead_letter' })).toBe(1);
    expect(await sdk.total(METRIC_NAMES.retried, { ...email, 'error.type': 'TypeError' })).toBe(2);
    expect(await sdk.total(METRIC_NAMES.deadLettered, { ...email, 'error.type': 'TypeError' })).toBe(1);
    expect(await sdk.total(METRIC_NAMES.processDuration, email)).toBe(5);
    // Once per event and group: at its ack or its dead letter, not at each retry.
    expect(await sdk.total(METRIC_NAMES.latency, email)).toBe(3);
    for (const point of await sdk.points(METRIC_NAMES.latency)) {
      const histogram = point.value as Histogram;
      expect(histogram.min).toBeGreaterThanOrEqual(0);
      expect(histogram.max).toBeLessThan(10);
    }
  });

  it('counts a refused publish with its error type', async () => {
    const refusing = delegatingAdapter(createMemoryAdapter(), {
      publish: () => Promise.reject(new RangeError('broker says no')),
    });
    const bus = createBus({
      source: 'test',
      adapter: refusing,
      telemetry: { meterProvider: sdk.meterProvider },
    });
    buses.push(bus);
    await expect(bus.publish(OrderPlaced, order('o'))).rejects.toThrow('broker says no');
    expect(await sdk.total(METRIC_NAMES.sent, { 'error.type': 'RangeError' })).toBe(1);
  });

  it('reports the consumer lag of subscriptions whose adapter can tell', async () => {
    const broker = createMemoryBroker();
    const inner = createMemoryAdapter({ broker });
    // The memory adapter does not report lag (yet); this one adds it from the broker's statistics.
    const adapter = delegatingAdapter(inner, {
      async subscribe(spec: SubscribeSpec, handler: RecordHandler): Promise<AdapterSubscription> {
        const subscription = await inner.subscribe(spec, handler);
        const withLag: AdapterSubscription & ConsumerLagReporter = Object.assign(
          Object.create(subscription),
          {
            lag: async (): Promise<ConsumerLag[]> =>
              broker
                .stats()
                .filter((s) => s.group === spec.group)
                .map((s) => ({ topic: s.topic, messages: s.pending })),
          },
        );
        return withLag;
      },
    });
    const bus = createBus({ source: 'test', adapter, telemetry: { meterProvider: sdk.meterProvider } });
    buses.push(bus);
    const subscription = bus.subscribe(OrderPlaced, { group: 'slow' }, () => undefined);
    await bus.start();
    subscription.pause();
    await bus.publishBatch([batchEntry(OrderPlaced, order('a')), batchEntry(OrderPlaced, order('b'))]);
    const points = await sdk.points(METRIC_NAMES.lag);
    expect(points).toHaveLength(1);
    expect(points[0]).toMatchObject({
      value: 2,
      attributes: {
        'messaging.system': 'memory',
        'messaging.destination.name': 'order.placed',
        'messaging.consumer.group.name': 'slow',
      },
    });
  });

  it('records no metrics when they are off', async () => {
    const bus = createTestBus({ telemetry: { meterProvider: sdk.meterProvider, metrics: false } });
    buses.push(bus);
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o'));
    await bus.waitFor({ id, outcome: 'handled' });
    expect(await sdk.points(METRIC_NAMES.sent)).toEqual([]);
    expect(await sdk.points(METRIC_NAMES.consumed)).toEqual([]);
  });
});
