import { Collector } from '@tidings/conformance';
import type { BrokerAdapter, Settlement, SubscribeSpec } from '@tidings/core/adapter';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeTestAdmin, deleteByPrefix, testAdapter, testNamespace } from './helpers';

const namespace = testNamespace('l');
const open: BrokerAdapter[] = [];
let counter = 0;

async function adapter(options: Parameters<typeof testAdapter>[0] = {}): Promise<BrokerAdapter> {
  const created = testAdapter(options);
  open.push(created);
  await created.connect();
  return created;
}

function spec(group: string, topic: string): SubscribeSpec {
  return {
    group,
    topics: [topic],
    concurrency: 4,
    ordering: 'key',
    startFrom: 'earliest',
    maxAttempts: 5,
    handlerTimeoutMs: 20_000,
  };
}

const records = (topic: string, prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    topic,
    key: `k${i}`,
    headers: {},
    body: Buffer.from(`${prefix}-${i}`),
  }));
const quiet = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((a) => a.close({ signal: AbortSignal.timeout(5_000) })));
});

afterAll(async () => {
  await deleteByPrefix(namespace);
  await closeTestAdmin();
});

describe('kafka subscription lifecycle', () => {
  it('stops delivering while paused and goes on where it stopped after resume', async () => {
    counter++;
    const topic = `${namespace}-pause-${counter}`;
    const kafka = await adapter();
    const collector = new Collector();
    const subscription = await kafka.subscribe(
      spec(`${namespace}-g${counter}`, topic),
      collector.handler('only'),
    );
    await kafka.publish(records(topic, 'before', 5));
    await collector.untilDistinct(5, 20_000);

    subscription.pause();
    expect(subscription.state).toBe('paused');
    await kafka.publish(records(topic, 'during', 5));
    await quiet(1_000);
    expect(collector.deliveries).toHaveLength(5);

    subscription.resume();
    expect(subscription.state).toBe('running');
    await collector.untilDistinct(10, 20_000);
    expect(collector.deliveries).toHaveLength(10);
  });

  it('keeps its partitions while a handler runs longer than the session timeout', async () => {
    counter++;
    const topic = `${namespace}-long-${counter}`;
    const group = `${namespace}-g${counter}`;
    // The broker's smallest session; without heartbeats during the handler the member would be
    // dropped, and the other member would get the record again.
    const consumer = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 };
    const collector = new Collector();
    const longMs = 7_500;
    const slowly = async (): Promise<Settlement> => {
      await quiet(longMs);
      return { type: 'ack' };
    };
    const first = await adapter({ consumer });
    const second = await adapter({ consumer });
    const subscriptions = [
      await first.subscribe(spec(group, topic), collector.handler('a', slowly)),
      await second.subscribe(spec(group, topic), collector.handler('b', slowly)),
    ];
    await first.publish([{ topic, key: 'slow', headers: {}, body: Buffer.from('long') }]);
    await collector.untilDistinct(1, 20_000);
    await quiet(longMs + 2_000);
    expect(collector.deliveries).toHaveLength(1);
    for (const subscription of subscriptions) {
      expect(subscription.state).toBe('running');
      expect(subscription.lastError).toBeUndefined();
    }
  });
});
