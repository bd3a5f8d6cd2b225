import { Collector } from '@tidings/conformance';
import type { Settlement } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { quietPeriod, subscribeSpec, testRecords, useKafka } from './helpers';

const kafka = useKafka('r');

/** A handler that takes its time, so that rebalances happen while records are in flight. */
const slow = (ms: number) => async (): Promise<Settlement> => {
  await quietPeriod(ms);
  return { type: 'ack' };
};

describe('kafka rebalances', () => {
  it('loses nothing, and hands nothing out twice, when a member joins and another leaves while handlers run', async () => {
    const { topic, group } = kafka.names('join-leave');
    const publisher = await kafka.adapter();
    const total = 600;
    await publisher.publish(testRecords(topic, 'r', total, 24));

    const collector = new Collector();
    const first = await kafka.adapter();
    const subscriptionA = await first.subscribe(
      subscribeSpec(group, topic),
      collector.handler('a', slow(40)),
    );
    await collector.until(
      () => collector.deliveries.length >= 100,
      20_000,
      () => `${collector.deliveries.length} delivered to the first member`,
    );

    // A second member joins while the first one has records in flight: the group rebalances.
    const second = await kafka.adapter();
    const subscriptionB = await second.subscribe(
      subscribeSpec(group, topic),
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
