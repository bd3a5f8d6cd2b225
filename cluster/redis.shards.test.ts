import { randomUUID } from 'node:crypto';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '@tidings/adapter-redis-streams';
import type { AdapterSubscription, IncomingRecord } from '@tidings/core/adapter';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LocalCluster } from './support/cluster';
import { clusterAdmin, deleteClusterKeys, primaryPortOf } from './support/redis';

// A sharded topic on the Redis Cluster: its shards are streams of their own hash tags, spread over
// the primaries, and an ordered subscription of two members shares them, each key in order.
let cluster: LocalCluster;
let admin: Cluster;
const prefix = `shards-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  cluster = await LocalCluster.open('redis');
  admin = clusterAdmin(cluster.addresses);
  await admin.connect();
});

afterAll(async () => {
  await deleteClusterKeys(admin, `*${prefix}*`).catch(() => undefined);
  await admin?.quit().catch(() => admin.disconnect());
});

test('a sharded topic spreads over the primaries, and two ordered members share it in key order', async () => {
  const topic = `${prefix}-orders`;
  const options = { cluster: { nodes: cluster.addresses }, shards: 6 } as const;
  const publisher = createRedisStreamsAdapter(options);
  const members: RedisStreamsAdapter[] = [
    createRedisStreamsAdapter(options),
    createRedisStreamsAdapter(options),
  ];
  const subscriptions: AdapterSubscription[] = [];
  const byKey = new Map<string, number[]>();
  const byMember = [0, 0];
  let handled = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const events = 600;
  try {
    for (const [i, member] of members.entries()) {
      subscriptions.push(
        await member.subscribe(
          {
            group: `${prefix}-g`,
            topics: [topic],
            concurrency: 8,
            prefetch: 8,
            ordering: 'key',
            startFrom: 'earliest',
            maxAttempts: 5,
            handlerTimeoutMs: 10_000,
          },
          async (record: IncomingRecord) => {
            const list = byKey.get(record.key!) ?? [];
            list.push(Number(new TextDecoder().decode(record.body)));
            byKey.set(record.key!, list);
            byMember[i]!++;
            if (++handled === events) done();
            return { type: 'ack' };
          },
        ),
      );
    }
    for (let n = 0; n < events; n++) {
      await publisher.publish([
        { topic, key: `k${n % 24}`, headers: {}, body: new TextEncoder().encode(String(n)) },
      ]);
    }
    await Promise.race([
      all,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`handled ${handled} of ${events}`)), 60_000),
      ),
    ]);

    // Where the shards live: the primaries that own their slots.
    const slots = new Set<number>();
    const primaries = new Set<number | undefined>();
    for (let shard = 0; shard < 6; shard++) {
      const stream = `{${topic}:shard-${shard}}`;
      expect(await admin.exists(stream)).toBe(1);
      slots.add(Number(await admin.cluster('KEYSLOT', stream)));
      primaries.add(await primaryPortOf(admin, stream));
    }
    expect(slots.size).toBe(6);
    console.log(`6 shards on ${primaries.size} primaries; handled per member: ${byMember.join(' / ')}`);
    expect(primaries.size).toBeGreaterThan(1);
    for (const [key, seen] of byKey) {
      expect(seen, key).toEqual([...seen].sort((a, b) => a - b));
    }
    expect(handled).toBe(events);
  } finally {
    await Promise.all(subscriptions.map((s) => s.close()));
    await Promise.all([publisher.close(), ...members.map((m) => m.close())]);
  }
});
