import { randomUUID } from 'node:crypto';
import { createKafkaAdapter } from '@tidings/adapter-kafka';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LocalCluster } from './support/cluster';
import { failoverEvents, failoverTable, runFailover } from './support/failover';

// Kafka on three KRaft nodes: a topic of one partition, 3 replicas, min.insync.replicas=2, written by
// the adapter's idempotent acks=all producer. The node that leads the partition is SIGKILLed halfway.
// The partition's preferred leader is the node that coordinates the consumer group, so the kill
// takes the coordinator too: the worst case, and the same one every run
// (TIDINGS_FAILOVER_KAFKA_COORDINATOR=any leaves it to chance).
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

/** Java's String.hashCode, as Kafka hashes a group id onto a partition of __consumer_offsets. */
function javaHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

async function leaderOf(name: string, partition: number): Promise<number | undefined> {
  const [meta] = (await admin.fetchTopicMetadata({ topics: [name] })).topics;
  const leader = meta?.partitions.find((p) => p.partitionId === partition)?.leader;
  return leader === undefined || leader < 1 ? undefined : leader;
}

/** Asks until the brokers know the answer (a topic just made has no leader for a moment). */
async function settled<T>(ask: () => Promise<T | undefined>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    try {
      const answer = await ask();
      if (answer !== undefined) return answer;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the brokers did not answer within 20 s (${String(last)})`);
}

/** The node that coordinates `group`: the leader of its partition of __consumer_offsets. */
async function coordinatorOf(group: string): Promise<number> {
  // Asking for a coordinator makes the brokers create __consumer_offsets when it does not exist yet.
  const partitions = await settled(async () => {
    await admin.describeGroups([group]);
    const [offsets] = (await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] })).topics;
    const found = offsets?.partitions ?? [];
    return found.length > 0 && found.every((p) => p.leader > 0) ? found : undefined;
  });
  const partition = (javaHash(group) & 0x7fffffff) % partitions.length;
  const leader = partitions.find((p) => p.partitionId === partition)?.leader;
  if (leader === undefined) throw new Error(`__consumer_offsets has no partition ${partition}`);
  return leader;
}

test('a partition of 3 replicas loses no acknowledged event when its leader is SIGKILLed', async () => {
  const group = `failover-${randomUUID().slice(0, 8)}`;
  const sameCoordinator = process.env.TIDINGS_FAILOVER_KAFKA_COORDINATOR !== 'any';
  // The partition's first replica, its preferred leader, is the group's coordinator: killing the
  // partition's leader then kills the coordinator too.
  const first = sameCoordinator ? await coordinatorOf(group) : 1 + Math.floor(Math.random() * 3);
  const replicas = [first, ...[1, 2, 3].filter((node) => node !== first)];
  await admin.createTopics({
    waitForLeaders: false,
    topics: [
      {
        topic,
        replicaAssignment: [{ partition: 0, replicas }],
        configEntries: [{ name: 'min.insync.replicas', value: '2' }],
      },
    ],
  });
  await settled(() => leaderOf(topic, 0));
  // The consumer's session (the adapter's default is 30 s): how long a coordinator waits for a
  // member that lost touch, which a coordinator's death makes the consumer do (see docs/scaling.md).
  const session = Number(process.env.TIDINGS_FAILOVER_KAFKA_SESSION_MS ?? 30_000);
  if (!Number.isInteger(session) || session < 6_000) {
    throw new Error('TIDINGS_FAILOVER_KAFKA_SESSION_MS must be an integer of at least 6000');
  }
  const options = {
    brokers: cluster.addresses,
    topics: { partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } },
    retryTopics: false,
    consumer: { sessionTimeoutMs: session },
    logLevel: 'error',
  } as const;
  const publisher = createKafkaAdapter({ ...options, clientId: 'failover-publisher' });
  const consumer = createKafkaAdapter({ ...options, clientId: 'failover-consumer' });
  try {
    const result = await runFailover({
      broker: `Kafka (RF 3, min ISR 2, session ${session / 1000} s${sameCoordinator ? ', coordinator killed too' : ''})`,
      events: failoverEvents(),
      topic,
      group,
      publisher,
      consumer,
      leader: async () => {
        const now = await leaderOf(topic, 0);
        if (now === undefined) throw new Error(`no leader for ${topic}/0`);
        return now;
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
