import { Collector } from '@tidings/conformance';
import type { AdapterSubscription, BrokerAdapter, Settlement, SubscribeSpec } from '@tidings/core/adapter';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeTestAdmin, deleteByPrefix, testAdapter, testNamespace } from './helpers';

const namespace = testNamespace('r');
const open: BrokerAdapter[] = [];

async function adapter(): Promise<BrokerAdapter> {
  const created = testAdapter();
  open.push(created);
  await created.connect();
  return created;
}

function spec(group: string, topic: string): SubscribeSpec {
  return {
    group,
    topics: [topic],
    concurrency: 8,
    ordering: 'key',
    startFrom: 'earliest',
    maxAttempts: 5,
    handlerTimeoutMs: 10_000,
  };
}

const ACK: Settlement = { type: 'ack' };

/** A handler that takes its time, so that rebalances happen while records are in flight. */
const slow = (ms: number) => async (): Promise<Settlement> => {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ACK;
};

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((a) => a.close({ signal: AbortSignal.timeout(10_000) })));
});

afterAll(async () => {
  await deleteByPrefix(namespace);
  await closeTestAdmin();
});

describe('kafka rebalances', () => {
  it('loses nothing, and hands nothing out twice, when a member joins and another leaves while handlers run', async () => {
    const topic = `${namespace}-join-leave`;
    const group = `${namespace}-g-join-leave`;
    const publisher = await adapter();
    const total = 600;
    await publisher.publish(
      Array.from({ length: total }, (_, i) => ({
        topic,
        key: `k${i % 24}`,
        headers: {},
        body: Buffer.from(`r-${i}`),
      })),
    );

    const collector = new Collector();
    const first = await adapter();
    const subscriptionA = await first.subscribe(spec(group, topic), collector.handler('a', slow(40)));
    await collector.until(
      () => collector.deliveries.length >= 100,
      20_000,
      () => `${collector.deliveries.length} delivered to the first member`,
    );

    // A second member joins while the first one has records in flight: the group rebalances.
    const second = await adapter();
    const subscriptionB: AdapterSubscription = await second.subscribe(
      spec(group, topic),
      collector.handler('b', slow(40)),
    );
    await collector.until(
      () => collector.deliveries.filter((d) => d.member === 'b').length >= 50,
      20_000,
      () => 'the second member got no partition',
    );

    // The first member leaves while records are in flight: it drains and commits before leaving.
    await subscriptionA.close();
    await collector.untilDistinct(total, 60_000);

    const perMember = (member: string) => collector.deliveries.filter((d) => d.member === member).length;
    expect(collector.distinctBodies().size).toBe(total);
    const seen = new Map<string, number>();
    for (const delivery of collector.deliveries) {
      const body = Buffer.from(delivery.record.body).toString();
      seen.set(body, (seen.get(body) ?? 0) + 1);
    }
    const twice = [...seen].filter(([, count]) => count > 1).map(([body]) => body);
    expect(twice, `handled twice (a: ${perMember('a')}, b: ${perMember('b')})`).toEqual([]);
    expect(subscriptionB.state).toBe('running');
  });
});
