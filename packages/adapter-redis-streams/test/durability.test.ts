import { Collector, deferred } from '@tidings/conformance';
import type { BrokerAdapter } from '@tidings/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '../src';
import { PrivateRedis } from './private-server';
import { waitUntil } from './wait';

/** Publishes one record, trying again while the server is away, until it is acknowledged. */
async function publishUntilAcknowledged(adapter: BrokerAdapter, topic: string, body: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await adapter.publish([{ topic, key: undefined, headers: {}, body: Buffer.from(body) }]);
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if ((code !== 'CONNECTION' && code !== 'PUBLISH') || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('a server with appendonly yes and appendfsync always, crashed and restarted mid-stream', () => {
  let server: PrivateRedis | undefined;
  let adapter: RedisStreamsAdapter | undefined;

  afterEach(async () => {
    await adapter?.close({ signal: AbortSignal.timeout(2_000) });
    await server?.stop();
  });

  it('loses no acknowledged publish and no acknowledged settlement', async () => {
    server = await PrivateRedis.start();
    adapter = createRedisStreamsAdapter({ connection: server.url, durable: true });
    await adapter.connect();
    expect(adapter.capabilities.durable).toBe(true);
    const topic = 'durable-orders';
    const collector = new Collector();
    await adapter.subscribe(
      {
        group: 'durable-group',
        topics: [topic],
        concurrency: 4,
        prefetch: 4,
        ordering: 'none',
        startFrom: 'earliest',
        maxAttempts: 10,
        handlerTimeoutMs: 2_000,
      },
      // A little work per record, so that the consumer trails the publisher and has entries in
      // flight when the server dies.
      collector.handler('only', async () => {
        await new Promise((resolve) => setTimeout(resolve, 3));
        return { type: 'ack' };
      }),
    );

    const total = 400;
    const acknowledged: string[] = [];
    const halfway = deferred();
    const publishing = (async () => {
      for (let i = 0; i < total; i++) {
        await publishUntilAcknowledged(adapter!, topic, `durable-${i}`);
        acknowledged.push(`durable-${i}`);
        if (acknowledged.length === total / 2) halfway.resolve();
      }
    })();

    await halfway.promise;
    await server.crash();
    await waitUntil(() => adapter!.state === 'reconnecting', 10_000, 'the adapter saw the server go');
    await server.restart();
    await publishing;
    await collector.untilDistinct(total, 60_000);

    const delivered = collector.distinctBodies();
    expect(
      acknowledged.filter((body) => !delivered.has(body)),
      'acknowledged but never delivered',
    ).toEqual([]);
    expect(adapter.state).toBe('connected');
    // The group's position and acknowledgements survived too: only the records in flight at the
    // crash (being read, handled or acknowledged, or a publish whose reply was lost) come twice.
    const duplicates = collector.deliveries.length - delivered.size;
    expect(duplicates).toBeLessThanOrEqual(16);
  });
});
