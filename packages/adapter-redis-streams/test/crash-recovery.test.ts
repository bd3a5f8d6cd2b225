import { Collector } from '@tidings/conformance';
import type { OutgoingRecord } from '@tidings/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '../src';
import { type Child, runFixture } from './child';
import { adminConnection, deleteKeysMatching, REDIS_URL, uniqueName } from './redis';

describe('a member killed with SIGKILL', () => {
  let child: Child | undefined;
  let adapter: RedisStreamsAdapter | undefined;
  const made: string[] = [];

  afterEach(async () => {
    child?.process.kill('SIGKILL');
    await adapter?.close({ signal: AbortSignal.timeout(2_000) });
    for (const name of made.splice(0)) await deleteKeysMatching(`*${name}*`);
  });

  it('leaves its pending entries to another member, which handles them with a higher attempt', async () => {
    const topic = uniqueName('crash');
    const group = uniqueName('crash-group');
    made.push(topic);
    const held = 5;
    child = runFixture('hold-entries.ts', [REDIS_URL, topic, group, String(held)]);
    await child.line('READY');

    adapter = createRedisStreamsAdapter({ connection: REDIS_URL });
    const sent: OutgoingRecord[] = Array.from({ length: held }, (_, i) => ({
      topic,
      key: `k${i}`,
      headers: { 'x-seq': String(i) },
      body: Buffer.from(`crash-${i}`),
    }));
    await adapter.publish(sent);
    await child.line(`HOLDING ${held}`);
    child.process.kill('SIGKILL');
    await child.exited;

    const admin = adminConnection();
    await admin.connect();
    try {
      const [pending, , , owners] = (await admin.xpending(topic, group)) as [
        number,
        string,
        string,
        [string, string][],
      ];
      expect(pending, 'the killed member held its entries pending').toBe(held);
      expect(owners).toHaveLength(1);

      const collector = new Collector();
      await adapter.subscribe(
        {
          group,
          topics: [topic],
          concurrency: 8,
          prefetch: 8,
          ordering: 'none',
          startFrom: 'earliest',
          maxAttempts: 10,
          handlerTimeoutMs: 2_000,
        },
        collector.handler('survivor'),
      );
      await collector.untilDistinct(held, 30_000);
      for (const delivery of collector.deliveries) {
        expect(delivery.record.attempt, "the delivery count counts the dead member's delivery").toBe(2);
        expect(delivery.record.headers['x-seq']).toBe(delivery.record.key!.slice(1));
      }
      await adapter.close();
      adapter = undefined;
      const [after] = (await admin.xpending(topic, group)) as [number];
      expect(after, 'the survivor acknowledged what it claimed').toBe(0);
    } finally {
      await admin.quit();
    }
  });
});
