import type { OutgoingRecord } from '@tidings/core/adapter';
import { expect } from 'vitest';
import { ACK, bodyText, Collector } from '../collector';
import { publishInBatches } from '../fixture';
import type { Scenario } from '../scenario';

export const keyOrdering: Scenario = {
  name: 'key-ordering',
  title: 'delivers the records of a key in publish order, one at a time, with several keys in parallel',
  unsupported: (c) => (c.ordering === 'key' ? undefined : 'the adapter does not order by key'),
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('order');
    const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`);
    const perKey = 40;
    const collector = new Collector();
    const inFlightByKey = new Map<string, number>();
    let inFlight = 0;
    let maxInFlight = 0;
    let overlapping = 0;
    // One record fails once, to show that a retry holds back the rest of its key.
    const failOnce = 'key-3#5';
    await adapter.subscribe(
      // A prefetch above the concurrency, as the bus asks by default: order must hold all the same.
      fx.spec({ group: fx.group('order'), topics: [topic], ordering: 'key', concurrency: 8, prefetch: 32 }),
      collector.handler('only', async (record) => {
        const key = record.key ?? '';
        if ((inFlightByKey.get(key) ?? 0) > 0) overlapping++;
        inFlightByKey.set(key, (inFlightByKey.get(key) ?? 0) + 1);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
        inFlight--;
        inFlightByKey.set(key, inFlightByKey.get(key)! - 1);
        if (bodyText(record) === failOnce && record.attempt === 1) {
          return { type: 'retry', delayMs: 50, headers: { 'tidings-attempt': '2' } } as const;
        }
        return ACK;
      }),
    );
    const sent: OutgoingRecord[] = [];
    for (let seq = 0; seq < perKey; seq++) {
      for (const key of keys) sent.push({ topic, key, headers: {}, body: Buffer.from(`${key}#${seq}`) });
    }
    await publishInBatches(adapter, sent, 40);
    await collector.untilDistinct(sent.length, settings.deliveryTimeoutMs);

    expect(overlapping, 'two records of one key were in flight at once').toBe(0);
    for (const key of keys) {
      const seqs = collector.deliveries
        .filter((d) => d.record.key === key)
        .map((d) => Number(bodyText(d.record).split('#')[1]));
      // Non-decreasing: a retried record may repeat, but nothing later overtakes it.
      const sorted = [...seqs].sort((a, b) => a - b);
      expect(seqs, `order of ${key}`).toEqual(sorted);
      expect(new Set(seqs).size).toBe(perKey);
    }
    expect(maxInFlight, 'keys were not handled in parallel').toBeGreaterThan(1);
  },
};
