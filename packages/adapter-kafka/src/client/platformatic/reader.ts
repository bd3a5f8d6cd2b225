import {
  Admin,
  type BaseOptions,
  Consumer,
  type fetchV17,
  offsetCommitV8,
  offsetCommitV9,
} from '@platformatic/kafka';
import { fromKafkaHeaderPairs } from '../../codec';
import { AbortedTransactions } from '../committed';
import type { FetchedRecord, KafkaLogReaderClient } from '../reader';
import { kafkaErrorNames } from './errors';

/**
 * Group-less reads and commits on `@platformatic/kafka`. Its `Consumer.fetch` sends one Fetch to a
 * broker of our choosing and joins no group (a consumer joins only when asked to consume), but it
 * hands back the batches as the broker sent them: aborted records and transaction markers included,
 * so the same committed-only rule as on kafkajs marks them. A commit as no member is an
 * OffsetCommit with generation -1 and no member id, sent on the coordinator's connection: the
 * client's own commit belongs to a joined member, and `alterConsumerGroupOffsets` takes no metadata.
 *
 * @module
 */

/** READ_COMMITTED: what the adapter's consumers read. */
const READ_COMMITTED = 1;
/** FindCoordinator's key type of a consumer group. */
const GROUP_KEY = 0;
/** OffsetCommit's API key, to learn the broker's highest version (v9 from Kafka 3.x, v8 before). */
const OFFSET_COMMIT_KEY = 8;
/** Batch attributes: bit 4 says transactional, bit 5 control (Kafka's record batch format v2). */
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
/**
 * The consumer's group id. platformatic's consumer needs one; this one is never joined, committed
 * to or described, so no group of that name ever exists on the broker.
 */
const NEVER_JOINED = 'tidings-group-less-reader';

/** Refusals of a commit as no member: the group has members. Callers read them as `type`, as on kafkajs. */
const MEMBER_REFUSALS = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION']);

/**
 * @internal Fetches and commits on platformatic clients made with `base`, made on first use.
 * @example
 * const reader = platformaticLogReader(baseOptions(options));
 * const records = await reader.fetch('orders.dlq', 0, 0, 4 * 1024 * 1024);
 */
export function platformaticLogReader(base: BaseOptions): KafkaLogReaderClient {
  let consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined;
  let admin: Admin | undefined;

  /** The partition's leader and the topic's id, from metadata; read again once when stale. */
  const leaderOf = async (topic: string, partition: number) => {
    consumer ??= new Consumer<Buffer, Buffer, Buffer, Buffer>({ ...base, groupId: NEVER_JOINED });
    for (const forceUpdate of [false, true]) {
      const metadata = await consumer.metadata({ topics: [topic], autocreateTopics: false, forceUpdate });
      const info = metadata.topics.get(topic);
      const leader = info?.partitions[partition]?.leader;
      if (info !== undefined && leader !== undefined && leader >= 0) return { consumer, leader, id: info.id };
    }
    throw new Error(`kafka: partition ${topic}/${partition} has no leader`);
  };

  return {
    async fetch(topic, partition, offset, maxBytes): Promise<FetchedRecord[]> {
      const { consumer, leader, id } = await leaderOf(topic, partition);
      const response = await consumer.fetch({
        node: leader,
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes,
        isolationLevel: READ_COMMITTED,
        topics: [
          {
            topicId: id,
            partitions: [
              {
                partition,
                fetchOffset: BigInt(offset),
                partitionMaxBytes: maxBytes,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              },
            ],
          },
        ],
      });
      const fetched = response.responses
        .flatMap((t) => t.partitions)
        .filter((p) => p.partitionIndex === partition);
      return fetchedRecords(fetched);
    },

    async commitAsNoMember(group, topic, offsets) {
      admin ??= new Admin(base);
      const [coordinator] = await admin.findCoordinator({ keyType: GROUP_KEY, keys: [group] });
      if (coordinator === undefined) throw new Error(`kafka: no coordinator for group "${group}"`);
      const connection = (await admin.connectToBrokers([coordinator.nodeId])).get(coordinator.nodeId);
      if (connection === undefined) throw new Error(`kafka: cannot reach the coordinator of "${group}"`);
      const versions = (await admin.listApis()).find((api) => api.apiKey === OFFSET_COMMIT_KEY);
      const api = (versions?.maxVersion ?? 0) >= 9 ? offsetCommitV9.api : offsetCommitV8.api;
      const partitions = [...offsets].map(([partitionIndex, committed]) => ({
        partitionIndex,
        committedOffset: BigInt(committed),
        committedLeaderEpoch: -1,
        // No metadata, as Kafka's own reset tool leaves it: the adapter's commit metadata is a member's.
        committedMetadata: null,
      }));
      try {
        await api.async(connection, group, -1, '', null, [{ name: topic, partitions }]);
      } catch (error) {
        // The callers branch on `type`, kafkajs's name for Kafka's error name: give it the same.
        const refusal = kafkaErrorNames(error).find((name) => MEMBER_REFUSALS.has(name));
        if (refusal !== undefined && typeof error === 'object' && error !== null) {
          Object.assign(error, { type: refusal });
        }
        throw error;
      }
    },

    async close() {
      const open = [consumer, admin];
      consumer = undefined;
      admin = undefined;
      await Promise.all(open.map((client) => client?.close().catch(() => undefined)));
    },
  };
}

/**
 * @internal The records of a Fetch response's partitions in the seam's shape, each marked as the
 * committed-only rule (`AbortedTransactions`) finds it (aborted, control), in one pass: offsets as
 * numbers, headers read straight from their pairs. With `visibleFrom`, only the records a group
 * consumer hands over: at or past that offset, neither a transaction marker nor aborted (the
 * markers still pass through the rule, since an abort marker ends its transaction).
 * @example
 * const all = fetchedRecords([partition]);
 * const visible = fetchedRecords([partition], 42);
 */
export function fetchedRecords(
  partitions: readonly fetchV17.FetchResponsePartition[],
  visibleFrom?: number,
): FetchedRecord[] {
  const out: FetchedRecord[] = [];
  const visibleOnly = visibleFrom !== undefined;
  for (const partition of partitions) {
    const aborts = new AbortedTransactions(
      partition.abortedTransactions.map(({ producerId, firstOffset }) => ({
        producerId: String(producerId),
        firstOffset: String(firstOffset),
      })),
    );
    for (const batch of partition.records ?? []) {
      const control = (batch.attributes & CONTROL) !== 0;
      const inTransaction = (batch.attributes & TRANSACTIONAL) !== 0;
      // Without aborted transactions in the answer nothing is aborted: no producer id to compare.
      const producerId = aborts.none ? undefined : String(batch.producerId);
      const first = Number(batch.firstOffset);
      for (const record of batch.records) {
        const offset = first + record.offsetDelta;
        const aborted =
          producerId !== undefined && aborts.marks(offset, producerId, inTransaction, control, record.key);
        if (visibleOnly && (control || aborted || offset < visibleFrom)) continue;
        out.push({
          offset,
          key: record.key ?? null,
          value: record.value,
          headers: fromKafkaHeaderPairs(record.headers),
          control,
          aborted,
        });
      }
    }
  }
  return out;
}
