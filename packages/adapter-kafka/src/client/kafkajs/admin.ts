import type { Admin, GroupDescription, ITopicConfig } from 'kafkajs';
import type { GroupInfo, KafkaAdminClient, TopicInfo } from '../admin';
import { kafkajs } from './module';

/**
 * The adapter's admin operations on a kafkajs `Admin`: a translation of names and shapes, no
 * policy. kafkajs reports per-group failures of `deleteGroups` and a topic it does not serve
 * (yet) as thrown errors; here they become results, as {@link KafkaAdminClient} promises.
 *
 * @module
 */

/** Kafka error names of a topic the broker does not serve yet; kafkajs throws them from a metadata request. */
const NOT_SERVED = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * @internal Wraps a connected kafkajs admin client. Disconnecting it stays with whoever connected it.
 * @example
 * const admin = kafkajsAdmin(await connectedKafkajsAdmin());
 * const ends = await admin.topicEnds('orders');
 */
export function kafkajsAdmin(admin: Admin): KafkaAdminClient {
  return {
    listTopics: () => admin.listTopics(),

    async createTopic({ topic, partitions, replicationFactor, configs }, { waitForLeaders }) {
      const config: ITopicConfig = { topic };
      if (partitions !== undefined) config.numPartitions = partitions;
      if (replicationFactor !== undefined) config.replicationFactor = replicationFactor;
      const entries = Object.entries(configs ?? {});
      if (entries.length > 0) config.configEntries = entries.map(([name, value]) => ({ name, value }));
      // One topic per request: kafkajs reports "already exists" cleanly only when no other topic is in it.
      return admin.createTopics({ topics: [config], waitForLeaders });
    },

    deleteTopics: (topics) => admin.deleteTopics({ topics: [...topics] }),

    async topicInfo(topic): Promise<TopicInfo> {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        return {
          partitions: (topics[0]?.partitions ?? []).map((p) => ({
            partition: p.partitionId,
            leader: p.leader,
            ...(p.partitionErrorCode === 0 ? {} : { error: `ERROR_CODE_${p.partitionErrorCode}` }),
          })),
        };
      } catch (error) {
        const type = (error as { type?: string }).type;
        if (type !== undefined && NOT_SERVED.has(type)) return { error: type, partitions: [] };
        throw error;
      }
    },

    async topicConfigs(topic, names) {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        // Through the default export: Node's ESM loader does not see this one as a named export of kafkajs.
        resources: [{ type: kafkajs().ConfigResourceTypes.TOPIC, name: topic, configNames: [...names] }],
      });
      const out = new Map<string, string>();
      for (const entry of resources[0]?.configEntries ?? []) out.set(entry.configName, entry.configValue);
      return out;
    },

    async topicEnds(topic) {
      return (await admin.fetchTopicOffsets(topic)).map(({ partition, low, high }) => ({
        partition,
        low: Number(low),
        high: Number(high),
      }));
    },

    async offsetsAt(topic, timestampMs) {
      return (await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs)).map(({ partition, offset }) => ({
        partition,
        offset: Number(offset),
      }));
    },

    async groupOffsets(group, topics) {
      const fetched =
        topics === undefined
          ? await admin.fetchOffsets({ groupId: group })
          : await admin.fetchOffsets({ groupId: group, topics: [...topics] });
      return fetched.map(({ topic, partitions }) => ({
        topic,
        partitions: partitions.map(({ partition, offset, metadata }) => ({
          partition,
          offset: Number(offset),
          metadata,
        })),
      }));
    },

    async listGroups() {
      return (await admin.listGroups()).groups.map(({ groupId, protocolType }) => ({
        groupId,
        protocolType,
      }));
    },

    async describeGroups(groups) {
      if (groups.length === 0) return [];
      return (await admin.describeGroups([...groups])).groups.map(groupInfo);
    },

    async deleteGroups(groups) {
      const refused = new Map<string, string>();
      if (groups.length === 0) return refused;
      try {
        await admin.deleteGroups([...groups]);
      } catch (error) {
        // KafkaJSDeleteGroupsError lists each group's own failure; anything else failed as a whole.
        const each = (error as { groups?: { groupId?: string; error?: { type?: string } }[] }).groups;
        if (each === undefined) throw error;
        for (const g of each) {
          if (g.groupId !== undefined && g.error?.type !== undefined) refused.set(g.groupId, g.error.type);
        }
      }
      return refused;
    },

    async deleteRecords(topic, partitions) {
      await admin.deleteTopicRecords({
        topic,
        partitions: partitions.map(({ partition, offset }) => ({ partition, offset: String(offset) })),
      });
    },

    async ping() {
      await admin.describeCluster();
    },
  };
}

function groupInfo(group: GroupDescription): GroupInfo {
  return {
    groupId: group.groupId,
    state: group.state,
    members: group.members.map((member) => ({
      memberId: member.memberId,
      clientId: member.clientId,
      assignedTopics: assignedTopics(member.memberAssignment),
    })),
  };
}

/** The topics of a member's assignment, decoded with kafkajs's consumer protocol; none when unreadable. */
function assignedTopics(assignment: Buffer): string[] {
  try {
    return Object.keys(kafkajs().AssignerProtocol.MemberAssignment.decode(assignment)?.assignment ?? {});
  } catch {
    // Another client's protocol (or none): this member's topics stay unknown.
    return [];
  }
}
