import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '../src';
import { PrivateRedis } from './private-server';
import { waitUntil } from './wait';

// A primary, its replica and a Sentinel of the test's own: the adapter finds the primary through
// the Sentinel (ioredis's `sentinels` in `connection`), and after the primary is SIGKILLed and the
// Sentinel promotes the replica, goes on publishing and consuming there.
const NAME = 'tidings-primary';
let primary: PrivateRedis;
let replica: PrivateRedis;
let sentinel: PrivateRedis;
let adapter: RedisStreamsAdapter | undefined;

beforeAll(async () => {
  primary = await PrivateRedis.start();
  replica = await PrivateRedis.start({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  sentinel = await PrivateRedis.startSentinel(NAME, primary.port);
}, 60_000);

afterAll(async () => {
  await adapter?.close();
  for (const server of [sentinel, replica, primary]) await server?.stop();
});

it('publishes and consumes through a Sentinel, and again after it failed the primary over', async () => {
  const connection = { sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: NAME };
  adapter = createRedisStreamsAdapter({ connection, waitForReplicas: { replicas: 1, timeoutMs: 2_000 } });
  const seen = new Set<string>();
  await adapter.subscribe(
    {
      group: 'g',
      topics: ['sentinel'],
      concurrency: 4,
      prefetch: 4,
      ordering: 'none',
      startFrom: 'earliest',
      maxAttempts: 10,
      handlerTimeoutMs: 5_000,
    },
    async (record) => {
      seen.add(new TextDecoder().decode(record.body));
      return { type: 'ack' };
    },
  );
  const publish = async (n: number): Promise<void> => {
    // As an application would while the primary changes: again a little later.
    for (;;) {
      try {
        await adapter!.publish([
          { topic: 'sentinel', key: undefined, headers: {}, body: new TextEncoder().encode(String(n)) },
        ]);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  for (let n = 0; n < 20; n++) await publish(n);
  await waitUntil(() => seen.size === 20, 10_000, 'the first 20 records were handled');

  await primary.crash();
  const replicaAdmin = await replica.admin();
  try {
    await waitUntil(
      async () => String(await replicaAdmin.info('replication')).includes('role:master'),
      30_000,
      'the Sentinel promoted the replica',
    );
  } finally {
    await replicaAdmin.quit();
  }
  // With WAIT 1 the new primary needs a replica: the old one, back, which the Sentinel turns into one.
  await primary.restart();
  for (let n = 20; n < 40; n++) await publish(n);
  await waitUntil(() => seen.size === 40, 30_000, 'the records published after the failover were handled');
  expect([...seen].sort((a, b) => Number(a) - Number(b))).toEqual(
    Array.from({ length: 40 }, (_, n) => String(n)),
  );
}, 90_000);
