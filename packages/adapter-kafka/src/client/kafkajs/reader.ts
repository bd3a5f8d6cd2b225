import type { Kafka, KafkaMessage } from 'kafkajs';
import { fromKafkaHeaders } from '../../codec';
import { committedOnly } from '../committed';
import type { FetchedRecord, KafkaLogReaderClient } from '../reader';

// Where the kafkajs reader's tests have always found it.
export { committedOnly };

/**
 * Group-less reads and commits on kafkajs. kafkajs has no public "assign and fetch" consumer: every
 * consumer joins a group. Browsing dead letters through a group would need a join (seconds with the
 * broker's default `group.initial.rebalance.delay.ms`) per reader and a group to clean up, and a
 * cursor per page is a seek in a running fetch loop. A Fetch request to the partition leader asks
 * for nothing of the kind. kafkajs makes such requests for its own consumers through its cluster
 * object, which it keeps behind a private symbol; this file is the one place that reaches it, and
 * says so clearly when it is not there.
 *
 * @module
 */

/** The private factory of kafkajs's cluster, the same one its consumers use (kafkajs 2.x). */
const CREATE_CLUSTER = 'private:Kafka:createCluster';
/** READ_COMMITTED: what the adapter's consumers read (`readUncommitted: false`). */
const READ_COMMITTED = 1;
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
 * @internal Fetches and commits through kafkajs's cluster object, one per adapter, connected on first use.
 * @example
 * const reader = kafkajsLogReader(kafka);
 * const records = await reader.fetch('orders.dlq', 0, 0, 4 * 1024 * 1024);
 */
export function kafkajsLogReader(kafka: Kafka): KafkaLogReaderClient {
  let cluster: Promise<Cluster> | undefined;
  const connected = (): Promise<Cluster> => {
    cluster ??= (async () => {
      const create = clusterFactory(kafka);
      const made = create({
        allowAutoTopicCreation: false,
        isolationLevel: READ_COMMITTED,
        metadataMaxAge: 60_000,
      });
      try {
        await made.connect();
      } catch (error) {
        cluster = undefined;
        throw error;
      }
      return made;
    })();
    return cluster;
  };

  return {
    async fetch(topic, partition, offset, maxBytes): Promise<FetchedRecord[]> {
      const cluster = await connected();
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
        maxBytes,
        topics: [{ topic, partitions: [{ partition, fetchOffset: String(offset), maxBytes }] }],
      });
      return committedOnly(responses.flatMap((r) => [...r.partitions])).map((message) => ({
        offset: Number(message.offset),
        key: message.key ?? null,
        value: message.value ?? null,
        headers: fromKafkaHeaders(message.headers),
        control: message.isControlRecord === true,
        aborted: message.aborted,
      }));
    },

    async commitAsNoMember(group, topic, offsets) {
      const coordinator = await (await connected()).findGroupCoordinator({ groupId: group });
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
    },

    async close() {
      const open = await cluster?.catch(() => undefined);
      cluster = undefined;
      await open?.disconnect().catch(() => undefined);
    },
  };
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
