import { ConnectionError, type Redactor } from '@tidings/core/adapter';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { KafkaAdminClient } from '../client/admin';
import { describeKafkaError } from '../errors';

/**
 * Reading a range of a topic's log without a consumer group, and committing a group's offsets
 * without being its member.
 *
 * kafkajs has no public "assign and fetch" consumer: every consumer joins a group. Browsing dead
 * letters through a group would need a join (seconds with the broker's default
 * `group.initial.rebalance.delay.ms`) per reader and a group to clean up, and a cursor per page is
 * a seek in a running fetch loop. A Fetch request to the partition leader asks for nothing of the
 * kind: no group, no offset is committed, the exact offset range is read. kafkajs makes such
 * requests for its own consumers through its cluster object, which it keeps behind a private
 * symbol; this file is the one place that reaches it, and says so clearly when it is not there.
 *
 * @module
 */

/** The private factory of kafkajs's cluster, the same one its consumers use (kafkajs 2.x). */
const CREATE_CLUSTER = 'private:Kafka:createCluster';
/** READ_COMMITTED: what the adapter's consumers read (`readUncommitted: false`). */
const READ_COMMITTED = 1;
/** The most one fetch brings back, for one partition. */
const FETCH_MAX_BYTES = 4 * 1024 * 1024;

/** @internal A fetched record, with its offset as a number. */
export interface LogRecord {
  readonly partition: number;
  readonly offset: number;
  readonly message: KafkaMessage;
}

/** @internal A fetched message, as kafkajs decodes it. */
export type FetchedMessage = KafkaMessage & {
  readonly isControlRecord?: boolean;
  readonly batchContext?: { readonly producerId: string; readonly inTransaction: boolean };
};

/** @internal One partition of a Fetch response, as kafkajs decodes it. */
export interface FetchedPartition {
  readonly partition: number;
  readonly messages: readonly FetchedMessage[];
  readonly abortedTransactions?: readonly { readonly producerId: string; readonly firstOffset: string }[];
}

interface FetchResponse {
  readonly responses: readonly {
    readonly topicName: string;
    readonly partitions: readonly FetchedPartition[];
  }[];
}

interface Broker {
  offsetCommit(request: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
  }): Promise<unknown>;
  fetch(request: {
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<FetchResponse>;
}

interface Cluster {
  findGroupCoordinator(options: { groupId: string }): Promise<Broker>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(options: { nodeId: string }): Promise<Broker>;
}

type ClusterFactory = (options: {
  allowAutoTopicCreation: boolean;
  isolationLevel: number;
  metadataMaxAge: number;
}) => Cluster;

/**
 * @internal Reads offset ranges of partitions with plain Fetch requests: no consumer group, nothing
 * committed, so no group's position moves. One connection set per adapter, opened on first use.
 */
export class LogReader {
  private cluster: Promise<Cluster> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly redactor: Redactor,
  ) {}

  /**
   * Calls `take` with each committed record of `partition` from `from` (inclusive) up to `end`
   * (exclusive), in offset order, until `take` returns false; resolves with the offset after the
   * last record looked at. Transaction markers and records of aborted transactions are skipped. A
   * transaction still open ends the read before it (the broker serves up to the last stable offset).
   */
  async scan(
    topic: string,
    partition: number,
    from: number,
    end: number,
    take: (record: LogRecord) => boolean,
  ): Promise<number> {
    let next = from;
    while (next < end) {
      const fetched = await this.fetch(topic, partition, next);
      let progressed = false;
      for (const message of committedOnly(fetched)) {
        const offset = Number(message.offset);
        // A fetch returns whole record batches: the start of the first may lie before `next`.
        if (offset < next) continue;
        if (offset >= end) return next;
        next = offset + 1;
        progressed = true;
        if (message.isControlRecord === true || message.aborted) continue;
        if (!take({ partition, offset, message })) return next;
      }
      // Nothing at or after `next` came back: an open transaction, or the end of what is left.
      if (!progressed) return next;
    }
    return next;
  }

  /**
   * Commits `offsets` (partition → offset) of `topic` for `group` as no member of it: the way of
   * Kafka's own `kafka-consumer-groups --reset-offsets`. The coordinator takes it only while the
   * group has no member, and refuses it (`UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`) otherwise, so a
   * member that joined meanwhile is not overwritten. (kafkajs's `admin.setOffsets` joins the group
   * with a consumer of its own instead, which takes seconds and is a member while it runs.)
   */
  async commitAsNoMember(group: string, topic: string, offsets: ReadonlyMap<number, number>): Promise<void> {
    const cluster = await this.connected();
    const coordinator = await cluster.findGroupCoordinator({ groupId: group });
    await coordinator.offsetCommit({
      groupId: group,
      groupGenerationId: -1,
      memberId: '',
      topics: [
        {
          topic,
          partitions: [...offsets].map(([partition, offset]) => ({ partition, offset: String(offset) })),
        },
      ],
    });
  }

  /** Disconnects, if connected. */
  async close(): Promise<void> {
    const cluster = await this.cluster?.catch(() => undefined);
    this.cluster = undefined;
    await cluster?.disconnect().catch(() => undefined);
  }

  private async fetch(topic: string, partition: number, offset: number): Promise<FetchedPartition[]> {
    try {
      const cluster = await this.connected();
      await cluster.addTargetTopic(topic);
      await cluster.refreshMetadataIfNecessary();
      const leaders = Object.keys(cluster.findLeaderForPartitions(topic, [partition]));
      if (leaders.length === 0) {
        // Stale metadata (a topic just made): read it again once.
        await cluster.refreshMetadata();
        leaders.push(...Object.keys(cluster.findLeaderForPartitions(topic, [partition])));
      }
      const nodeId = leaders[0];
      if (nodeId === undefined) throw new Error(`partition ${topic}/${partition} has no leader`);
      const broker = await cluster.findBroker({ nodeId });
      const { responses } = await broker.fetch({
        isolationLevel: READ_COMMITTED,
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes: FETCH_MAX_BYTES,
        topics: [
          { topic, partitions: [{ partition, fetchOffset: String(offset), maxBytes: FETCH_MAX_BYTES }] },
        ],
      });
      return responses.flatMap((r) => [...r.partitions]);
    } catch (error) {
      throw new ConnectionError(
        this.redactor.text(
          `kafka: cannot read ${topic}/${partition} at ${offset}: ${describeKafkaError(error)}`,
        ),
        { cause: this.redactor.error(error) },
      );
    }
  }

  private connected(): Promise<Cluster> {
    this.cluster ??= (async () => {
      const create = clusterFactory(this.kafka);
      const cluster = create({
        allowAutoTopicCreation: false,
        isolationLevel: READ_COMMITTED,
        metadataMaxAge: 60_000,
      });
      try {
        await cluster.connect();
      } catch (error) {
        this.cluster = undefined;
        throw error;
      }
      return cluster;
    })();
    return this.cluster;
  }
}

/**
 * @internal The fetched messages in offset order, each marked when it belongs to an aborted transaction: the
 * broker lists those transactions (producer and first offset) beside the records of a read-committed
 * fetch, and a reader skips a producer's transactional records from that offset to its abort marker.
 */
export function committedOnly(
  partitions: readonly FetchedPartition[],
): (FetchedMessage & { aborted: boolean })[] {
  const out: (FetchedMessage & { aborted: boolean })[] = [];
  for (const { messages, abortedTransactions } of partitions) {
    const pending = [...(abortedTransactions ?? [])].sort(
      (a, b) => Number(a.firstOffset) - Number(b.firstOffset),
    );
    const aborting = new Set<string>();
    for (const message of messages) {
      const offset = Number(message.offset);
      while (pending.length > 0 && offset >= Number(pending[0]!.firstOffset))
        aborting.add(pending.shift()!.producerId);
      const producer = message.batchContext?.producerId;
      let aborted = false;
      if (producer !== undefined && aborting.has(producer)) {
        if (message.isControlRecord === true && isAbortMarker(message)) aborting.delete(producer);
        else aborted = message.batchContext?.inTransaction === true;
      }
      out.push({ ...message, aborted });
    }
  }
  return out;
}

/** A control record's key is a version and a type, two 16-bit integers; type 0 is ABORT. */
function isAbortMarker(message: FetchedMessage): boolean {
  const key = message.key;
  return key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === 0;
}

/** kafkajs's cluster factory, or an error that says which kafkajs this adapter needs. */
function clusterFactory(kafka: Kafka): ClusterFactory {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === CREATE_CLUSTER);
  const factory = symbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (typeof factory !== 'function') {
    throw new Error(
      'this kafkajs has no cluster factory to fetch with (the adapter reads dead letters with kafkajs 2.x)',
    );
  }
  return factory as ClusterFactory;
}

/** @internal The log start and end (high watermark) of a partition. */
export interface LogEnds {
  readonly low: number;
  readonly high: number;
}

/**
 * @internal The log ends of each partition of `topic`, by partition; empty when it does not exist.
 * Whether it exists is asked first, from the topic list: a metadata request for the topic itself
 * would create it on brokers with `auto.create.topics.enable`.
 */
export async function readEnds(admin: KafkaAdminClient, topic: string): Promise<Map<number, LogEnds>> {
  const out = new Map<number, LogEnds>();
  if (!(await admin.listTopics()).includes(topic)) return out;
  for (const { partition, low, high } of await admin.topicEnds(topic)) {
    out.set(partition, { low, high });
  }
  return out;
}
