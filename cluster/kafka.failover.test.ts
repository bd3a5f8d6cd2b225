import { randomUUID } from 'node:crypto';
import { createKafkaAdapter } from '@tidings/adapter-kafka';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LocalCluster } from './support/cluster';
import { failoverEvents, failoverTable, runFailover } from './support/failover';

// Kafka on three KRaft nodes: a topic of one partition, 3 replicas, min.insync.replicas=2, written by
// the adapter's idempotent acks=all producer. The node that leads the partition is SIGKILLed halfway.
let cluster: LocalCluster;
let admin: Admin;
const topic = `failover-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  cluster = await LocalCluster.open('kafka');
  admin = new Kafka({ brokers: cluster.addresses, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});

afterAll(async () => {
  try {
    await admin.deleteTopics({ topics: [topic] });
  } catch {
    // The topic is gone with a wiped cluster too.
  }
  await admin?.disconnect();
});

test('a partition of 3 replicas loses no acknowledged event when its leader is SIGKILLed', async () => {
  const options = {
    brokers: cluster.addresses,
    topics: { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } },
    retryTopics: false,
    logLevel: 'error',
  } as const;
  const publisher = createKafkaAdapter({ ...options, clientId: 'failover-publisher' });
  const consumer = createKafkaAdapter({ ...options, clientId: 'failover-consumer' });
  try {
    const result = await runFailover({
      broker: 'Kafka (RF 3, min ISR 2)',
      events: failoverEvents(),
      topic,
      group: `failover-${randomUUID().slice(0, 8)}`,
      publisher,
      consumer,
      leader: async () => {
        const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
        const leader = meta?.partitions.find((p) => p.partitionId === 0)?.leader;
        if (leader === undefined || leader < 1) throw new Error(`no leader for ${topic}/0`);
        return leader;
      },
      kill: (node) => cluster.kill(node),
      restart: () => cluster.restart(),
      drainTimeoutMs: 120_000,
    });
    console.log(`\n${failoverTable([result])}\n(node ${result.killedNode} killed)`);
    expect(result.lost).toBe(0);
    expect(result.acknowledged).toBe(failoverEvents());
    expect(result.handled).toBe(result.acknowledged);
  } finally {
    await Promise.all([publisher.close(), consumer.close()]);
  }
});
