import { Collector } from '@tidings/conformance';
import type { Settlement } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { quietPeriod, subscribeSpec, testRecords, useKafka } from './helpers';

const kafka = useKafka('l');

describe('kafka subscription lifecycle', () => {
  it('stops delivering while paused and goes on where it stopped after resume', async () => {
    const { topic, group } = kafka.names('pause');
    const adapter = await kafka.adapter();
    const collector = new Collector();
    const subscription = await adapter.subscribe(subscribeSpec(group, topic), collector.handler('only'));
    await adapter.publish(testRecords(topic, 'before', 5));
    await collector.untilDistinct(5, 20_000);

    subscription.pause();
    expect(subscription.state).toBe('paused');
    await adapter.publish(testRecords(topic, 'during', 5));
    await quietPeriod(1_000);
    expect(collector.deliveries).toHaveLength(5);

    subscription.resume();
    expect(subscription.state).toBe('running');
    await collector.untilDistinct(10, 20_000);
    expect(collector.deliveries).toHaveLength(10);
  });

  it('keeps its partitions while a handler runs longer than the session timeout', async () => {
    const { topic, group } = kafka.names('long');
    // The broker's smallest session; without heartbeats during the handler the member would be
    // dropped, and the other member would get the record again.
    const consumer = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 };
    const collector = new Collector();
    const longMs = 7_500;
    const slowly = async (): Promise<Settlement> => {
      await quietPeriod(longMs);
      return { type: 'ack' };
    };
    const first = await kafka.adapter({ consumer });
    const second = await kafka.adapter({ consumer });
    const spec = subscribeSpec(group, topic, { handlerTimeoutMs: 20_000 });
    const subscriptions = [
      await first.subscribe(spec, collector.handler('a', slowly)),
      await second.subscribe(spec, collector.handler('b', slowly)),
    ];
    await first.publish([{ topic, key: 'slow', headers: {}, body: Buffer.from('long') }]);
    await collector.untilDistinct(1, 20_000);
    await quietPeriod(longMs + 2_000);
    expect(collector.deliveries).toHaveLength(1);
    for (const subscription of subscriptions) {
      expect(subscription.state).toBe('running');
      expect(subscription.lastError).toBeUndefined();
    }
  });
});
