import type { Admin } from '@platformatic/kafka';
import type { GroupInfo, KafkaAdminClient, PartitionEnds, TopicInfo } from '../admin';
import { groupRefusals, kafkaErrorNames, topicNotServed } from './errors';

/**
 * The adapter's admin operations on a `@platformatic/kafka` `Admin`: a translation of names and
 * shapes, no policy. Offsets come as bigints and leave as numbers; a topic the broker does not
 * serve and a group it would not delete become results, as {@link KafkaAdminClient} promises.
 *
 * @module
 */

/** DescribeConfigs' resource type of a topic. */
const TOPIC_RESOURCE = 2;
/** ListOffsets' special timestamps: the log start and the log end. */
const EARLIEST = -2n;
const LATEST = -1n;
/** How long `createTopic` waits for leaders, and how often it asks, before giving up. */
const LEADER_WAIT_MS = 30_000;
const LEADER_POLL_MS = 100;

/**
 * @internal Wraps a platformatic admin client. Closing it stays with whoever made it.
 * @example
 * const admin = platformaticAdmin(new Admin({ clientId: 'app', bootstrapBrokers: ['127.0.0.1:9092'] }));
 * const ends = await admin.topicEnds('orders');
 */
export function platformaticAdmin(admin: Admin): KafkaAdminClient {
  /** The partitions of a topic, from fresh metadata (throws when the broker does not serve it). */
  const partitionsOf = async (topic: string): Promise<number[]> => {
    const metadata = await admin.metadata({ topics: [topic], autocreateTopics: false, forceUpdate: true });
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    return Array.from({ length: count }, (_, partition) => partition);
  };

  const listOffsets = async (topic: string, timestamp: bigint): Promise<Map<number, number>> => {
    const partitions = await partitionsOf(topic);
    const listed = await admin.listOffsets({
      topics: [
        { name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) },
      ],
      // The ends a read-committed consumer sees, as kafkajs asks for them.
      isolationLevel: 1,
    });
    const out = new Map<number, number>();
    for (const p of listed.find((t) => t.name === topic)?.partitions ?? []) {
      out.set(p.partitionIndex, Number(p.offset));
    }
    return out;
  };

  return {
    listTopics: () => admin.listTopics(),

    async createTopic({ topic, partitions, replicationFactor, configs }, { waitForLeaders }) {
      try {
        await admin.createTopics({
          topics: [topic],
          ...(partitions === undefined ? {} : { partitions }),
          ...(replicationFactor === undefined ? {} : { replicas: replicationFactor }),
          configs: Object.entries(configs ?? {}).map(([name, value]) => ({ name, value })),
        });
      } catch (error) {
        if (kafkaErrorNames(error).includes('TOPIC_ALREADY_EXISTS')) return false;
        throw error;
      }
      if (waitForLeaders) await leadersOf(admin, topic);
      return true;
    },

    deleteTopics: (topics) => admin.deleteTopics({ topics: [...topics] }),

    async topicInfo(topic): Promise<TopicInfo> {
      // platformatic retries a metadata request for an unknown topic (3 × 1 s by default) before it
      // gives up: the list of topics answers "not there" at once.
      if (!(await admin.listTopics({ includeInternals: true })).includes(topic)) {
        return { error: 'UNKNOWN_TOPIC_OR_PARTITION', partitions: [] };
      }
      try {
        const metadata = await admin.metadata({
          topics: [topic],
          autocreateTopics: false,
          forceUpdate: true,
        });
        const partitions = metadata.topics.get(topic)?.partitions ?? [];
        // The client keeps partitions by index and drops per-partition errors (it throws on them instead).
        return { partitions: partitions.map(({ leader }, partition) => ({ partition, leader })) };
      } catch (error) {
        const reason = topicNotServed(error);
        if (reason !== undefined) return { error: reason, partitions: [] };
        throw error;
      }
    },

    async topicConfigs(topic, names) {
      const described = await admin.describeConfigs({
        resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic, configurationKeys: [...names] }],
        includeSynonyms: false,
      });
      const out = new Map<string, string>();
      for (const { name, value } of described[0]?.configs ?? [])
        if (typeof value === 'string') out.set(name, value);
      return out;
    },

    async topicEnds(topic): Promise<PartitionEnds[]> {
      const [low, high] = await Promise.all([listOffsets(topic, EARLIEST), listOffsets(topic, LATEST)]);
      return [...high].map(([partition, end]) => ({ partition, low: low.get(partition) ?? 0, high: end }));
    },

    async offsetsAt(topic, timestampMs) {
      const [at, high] = await Promise.all([
        listOffsets(topic, BigInt(timestampMs)),
        listOffsets(topic, LATEST),
      ]);
      // The broker answers -1 when no record is that recent; the seam promises the end then.
      return [...at].map(([partition, offset]) => ({
        partition,
        offset: offset < 0 ? (high.get(partition) ?? offset) : offset,
      }));
    },

    async groupOffsets(group, topics) {
      const wanted =
        topics === undefined
          ? null
          : await Promise.all(
              topics.map(async (name) => ({ name, partitionIndexes: await partitionsOf(name) })),
            );
      const listed = await admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: wanted }] });
      return (listed.find((g) => g.groupId === group)?.topics ?? []).map(({ name, partitions }) => ({
        topic: name,
        partitions: partitions.map(({ partitionIndex, committedOffset, metadata }) => ({
          partition: partitionIndex,
          offset: Number(committedOffset),
          metadata: metadata ?? null,
        })),
      }));
    },

    async listGroups() {
      return [...(await admin.listGroups()).values()].map(({ id, protocolType }) => ({
        groupId: id,
        protocolType,
      }));
    },

    async describeGroups(groups) {
      if (groups.length === 0) return [];
      const described = await admin.describeGroups({ groups: [...groups] });
      return [...described.values()].map(
        (group): GroupInfo => ({
          groupId: group.id,
          state: kafkaStateName(group.state),
          members: [...group.members.values()].map((member) => ({
            memberId: member.id,
            clientId: member.clientId,
            assignedTopics: [...(member.assignments?.keys() ?? [])],
          })),
        }),
      );
    },

    async deleteGroups(groups) {
      if (groups.length === 0) return new Map<string, string>();
      try {
        await admin.deleteGroups({ groups: [...groups] });
        return new Map<string, string>();
      } catch (error) {
        const refused = groupRefusals(error);
        // Nothing said per group: the request failed as a whole (no broker, no coordinator).
        if (refused.size === 0) throw error;
        return refused;
      }
    },

    async deleteRecords(topic, partitions) {
      await admin.deleteRecords({
        topics: [
          {
            name: topic,
            partitions: partitions.map(({ partition, offset }) => ({ partition, offset: BigInt(offset) })),
          },
        ],
      });
    },

    async ping() {
      await admin.metadata({ topics: [], forceUpdate: true });
    },
  };
}

/**
 * The coordinator's state as Kafka (and kafkajs) spell it: platformatic upper-cases it
 * (`PREPARING_REBALANCE`), the broker sends `PreparingRebalance`.
 */
function kafkaStateName(state: string): string {
  return state
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

/** Resolves once every partition of a new topic has a leader; the broker elects them just after creating it. */
async function leadersOf(admin: Admin, topic: string): Promise<void> {
  const deadline = Date.now() + LEADER_WAIT_MS;
  for (;;) {
    try {
      const metadata = await admin.metadata({ topics: [topic], autocreateTopics: false, forceUpdate: true });
      const partitions = metadata.topics.get(topic)?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return;
    } catch (error) {
      if (topicNotServed(error) === undefined || Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`kafka: topic "${topic}" has no leaders after ${LEADER_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, LEADER_POLL_MS));
  }
}
