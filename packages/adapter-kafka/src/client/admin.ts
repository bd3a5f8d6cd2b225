/**
 * What the adapter needs from a Kafka client's admin side, in the adapter's own words. Each client
 * (kafkajs today, `@platformatic/kafka` next) implements it in `client/<name>/admin.ts`; nothing
 * outside `client/` imports a client's admin type. Offsets are numbers (Kafka's are 64-bit, but a
 * log passes 2^53 records in no deployment this adapter will meet) and -1 means "none".
 *
 * Errors: a call that fails throws the client's own error; `errors.ts` classifies it. What callers
 * branch on (a topic not there yet, a group that still has members) is part of a result instead,
 * so that no caller reads a client's error shape.
 *
 * @module
 */

/** @internal A partition's log start and end (the high watermark, the offset the next record gets). */
export interface PartitionEnds {
  readonly partition: number;
  readonly low: number;
  readonly high: number;
}

/** @internal A group's committed position on one partition; `offset` is -1 when it committed none. */
export interface CommittedOffset {
  readonly partition: number;
  readonly offset: number;
  /** The commit's metadata string; null or empty when none was given. */
  readonly metadata: string | null;
}

/** @internal A group's committed positions on one topic. */
export interface TopicCommits {
  readonly topic: string;
  readonly partitions: readonly CommittedOffset[];
}

/** @internal A consumer group as listing them tells it. */
export interface GroupListing {
  readonly groupId: string;
  /** `consumer` for consumer groups; empty for a group that only ever had offsets committed. */
  readonly protocolType: string;
}

/** @internal One member of a group, with the topics of its current assignment. */
export interface GroupMemberInfo {
  readonly memberId: string;
  readonly clientId: string;
  /** Topics the group leader assigned to it; empty when its assignment cannot be read. */
  readonly assignedTopics: readonly string[];
}

/** @internal A described consumer group. */
export interface GroupInfo {
  readonly groupId: string;
  /** The coordinator's state name (`Stable`, `Empty`, `PreparingRebalance`... as the client spells it). */
  readonly state: string;
  readonly members: readonly GroupMemberInfo[];
}

/** @internal A topic to create. */
export interface NewTopic {
  readonly topic: string;
  readonly partitions?: number;
  readonly replicationFactor?: number;
  readonly configs?: Readonly<Record<string, string>>;
}

/** @internal A partition of a topic's metadata; `error` is Kafka's error name when it has one. */
export interface PartitionInfo {
  readonly partition: number;
  readonly leader: number;
  readonly error?: string;
}

/**
 * @internal A topic's metadata. `error` is the Kafka error name when the broker does not serve it
 * (yet): `UNKNOWN_TOPIC_OR_PARTITION`, `LEADER_NOT_AVAILABLE`; then `partitions` may be empty.
 */
export interface TopicInfo {
  readonly error?: string;
  readonly partitions: readonly PartitionInfo[];
}

/**
 * @internal The admin operations of a Kafka client, as the adapter uses them. One instance per
 * adapter, shared by every caller; calls may run concurrently.
 */
export interface KafkaAdminClient {
  /** Names of the cluster's topics (internal ones included or not: the adapter never asks for them). */
  listTopics(): Promise<string[]>;
  /**
   * Creates a topic; resolves false when it already existed. With `waitForLeaders`, resolves once
   * its partitions have leaders.
   */
  createTopic(topic: NewTopic, options: { readonly waitForLeaders: boolean }): Promise<boolean>;
  /** Deletes topics. */
  deleteTopics(topics: readonly string[]): Promise<void>;
  /** A topic's partitions and leaders. Must not create the topic (no auto-creation). */
  topicInfo(topic: string): Promise<TopicInfo>;
  /** The values of `names` among a topic's configs; a name the broker did not return is absent. */
  topicConfigs(topic: string, names: readonly string[]): Promise<Map<string, string>>;
  /** Every partition's log start and end. */
  topicEnds(topic: string): Promise<PartitionEnds[]>;
  /** Per partition, the first offset whose timestamp is at or after `timestampMs` (the end when none). */
  offsetsAt(topic: string, timestampMs: number): Promise<{ partition: number; offset: number }[]>;
  /** A group's committed offsets on `topics`, or on every topic it committed to when omitted. */
  groupOffsets(group: string, topics?: readonly string[]): Promise<TopicCommits[]>;
  /** Every group the cluster knows. */
  listGroups(): Promise<GroupListing[]>;
  /** Describes groups; a group the coordinator does not know comes back empty (`Dead`, no member). */
  describeGroups(groups: readonly string[]): Promise<GroupInfo[]>;
  /**
   * Deletes groups; resolves with the Kafka error name of each group that was not deleted
   * (`NON_EMPTY_GROUP`, `GROUP_ID_NOT_FOUND`...). Throws for failures that are not per group.
   */
  deleteGroups(groups: readonly string[]): Promise<Map<string, string>>;
  /** Deletes the records of each partition before `offset` (moves its log start there). */
  deleteRecords(topic: string, partitions: readonly { partition: number; offset: number }[]): Promise<void>;
  /** Any cheap request that needs a broker to answer (the connection monitor's probe). */
  ping(): Promise<void>;
}
