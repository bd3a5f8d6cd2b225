import { Collector } from '@tidings/conformance';
import type { OutgoingRecord, Settlement } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { ACK, spec, useTestKit } from './kit';
import { waitUntil } from './wait';

/** The group's pending entries (`XPENDING` summary count). */
type Admin = Awaited<ReturnType<ReturnType<typeof useTestKit>['redis']>>;
async function pendingCount(redis: Admin, topic: string, group: string): Promise<number> {
  return ((await redis.xpending(topic, group)) as [number])[0];
}

function records(topic: string, keys: number, perKey: number): OutgoingRecord[] {
  const out: OutgoingRecord[] = [];
  for (let seq = 0; seq < perKey; seq++) {
    for (let k = 0; k < keys; k++) {
      out.push({ topic, key: `k${k}`, headers: {}, body: Buffer.from(`k${k}#${seq}`) });
    }
  }
  return out;
}

describe('reading ahead up to the prefetch', () => {
  const { adapter, names, redis } = useTestKit();

  it.each(['none', 'key'] as const)(
    'holds `prefetch` entries (pending in the group) while `concurrency` handlers run (ordering %s)',
    async (ordering) => {
      const { topic, group } = names(`hold-${ordering}`);
      const a = adapter();
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const collector = new Collector();
      await a.subscribe(
        spec({ group, topics: [topic], concurrency: 1, prefetch: 8, ordering }),
        collector.handler('only', async () => {
          await released;
          return ACK;
        }),
      );
      // Distinct keys: ordering by key holds nothing back, only the concurrency does.
      await a.publish(records(topic, 20, 1));
      const r = await redis();
      await waitUntil(async () => (await pendingCount(r, topic, group)) === 8, 10_000, '8 entries pending');
      // One more read turn would show: the reader asks for nothing while it holds the prefetch.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await pendingCount(r, topic, group)).toBe(8);
      expect(collector.deliveries).toHaveLength(1);

      release();
      await collector.untilDistinct(20, 10_000);
      expect(collector.deliveries).toHaveLength(20);
      await waitUntil(async () => (await pendingCount(r, topic, group)) === 0, 10_000, 'all acknowledged');
    },
  );

  it('keeps the order of each key with prefetch above concurrency, a retry holding back its key', async () => {
    const { topic, group } = names('order');
    const a = adapter();
    const collector = new Collector();
    let retried = false;
    await a.subscribe(
      spec({ group, topics: [topic], concurrency: 2, prefetch: 16, ordering: 'key' }),
      collector.handler('only', async (record): Promise<Settlement> => {
        const body = Buffer.from(record.body).toString();
        if (body === 'k0#2' && !retried) {
          retried = true;
          return { type: 'retry', delayMs: 100, headers: {} };
        }
        // Some work, so that entries wait in the member behind the busy handlers.
        await new Promise((resolve) => setTimeout(resolve, 1));
        return ACK;
      }),
    );
    const keys = 4;
    const perKey = 15;
    await a.publish(records(topic, keys, perKey));
    await collector.untilDistinct(keys * perKey, 20_000);
    const byKey = new Map<string, string[]>();
    for (const { record } of collector.deliveries) {
      byKey.set(record.key!, [...(byKey.get(record.key!) ?? []), Buffer.from(record.body).toString()]);
    }
    for (let k = 0; k < keys; k++) {
      const expected = Array.from({ length: perKey }, (_, seq) => `k${k}#${seq}`);
      // k0#2 comes twice, the retry before anything later of k0.
      if (k === 0) expected.splice(3, 0, 'k0#2');
      expect(byKey.get(`k${k}`), `order of k${k}`).toEqual(expected);
    }
    await waitUntil(async () => (await pendingCount(await redis(), topic, group)) === 0, 10_000, 'all acked');
  });
});
