import type { Consumer, fetchV17 } from '@platformatic/kafka';
import type { FetchedRecord } from '../reader';
import { errorTree } from './errors';
import { fetchedRecords } from './reader';

type FetchResponse = fetchV17.FetchResponse;

/**
 * One round of the group consumer's own fetch loop on `@platformatic/kafka`: a read-committed Fetch
 * to each partition's leader, partitions grouped by leader, and the answer per partition. The
 * client's `Consumer.fetch` throws the whole response when one partition has an error; the response
 * rides on the error, so the partitions that answered still count and the others say their error.
 *
 * @module
 */

/** READ_COMMITTED: what the adapter's consumers read. */
export const READ_COMMITTED = 1;

/** Kafka's error codes the fetch loop acts on; any other partition error refreshes metadata too. */
export const OFFSET_OUT_OF_RANGE = 1;
/** The partition has no leader in the metadata we hold (Kafka's LEADER_NOT_AVAILABLE). */
const LEADER_NOT_AVAILABLE = 5;

/** @internal A partition to fetch and the offset to fetch it from. */
export interface PartitionFetch {
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** @internal What one round brought for a partition. */
export interface PartitionAnswer extends PartitionFetch {
  /** Records from `offset` on: none of aborted transactions, no transaction markers. */
  readonly records: readonly FetchedRecord[];
  /** The last offset the fetched batches covered, markers included; undefined when none came. */
  readonly lastOffset: number | undefined;
  /** Kafka's error code for the partition, when it had one. */
  readonly error?: number;
}

/** @internal Limits of one round, from the group consumer's settings. */
export interface RoundSettings {
  readonly maxWaitTimeMs: number;
  readonly maxBytesPerPartition: number;
}

/**
 * @internal Fetches `wanted` once, from each partition's leader (all leaders at once); `failures`
 * are the requests that brought no response at all (a broker unreachable, metadata not answered).
 * @example
 * const { answers } = await fetchRound(consumer, [{ key, topic, partition: 0, offset: 42 }], settings, false);
 */
export async function fetchRound(
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
  wanted: readonly PartitionFetch[],
  settings: RoundSettings,
  forceMetadata: boolean,
): Promise<{ answers: PartitionAnswer[]; failures: unknown[] }> {
  const topics = [...new Set(wanted.map((w) => w.topic))];
  const metadata = await consumer.metadata({ topics, autocreateTopics: false, forceUpdate: forceMetadata });
  const answers: PartitionAnswer[] = [];
  const failures: unknown[] = [];
  const byLeader = new Map<number, PartitionFetch[]>();
  const topicOfId = new Map<string, string>();
  for (const want of wanted) {
    const info = metadata.topics.get(want.topic);
    const leader = info?.partitions[want.partition]?.leader ?? -1;
    if (info === undefined || leader < 0) {
      answers.push({ ...want, records: [], lastOffset: undefined, error: LEADER_NOT_AVAILABLE });
      continue;
    }
    topicOfId.set(info.id, want.topic);
    byLeader.set(leader, [...(byLeader.get(leader) ?? []), want]);
  }
  await Promise.all(
    [...byLeader].map(async ([leader, fetches]) => {
      const request = new Map<string, PartitionFetch[]>();
      for (const f of fetches) {
        const id = metadata.topics.get(f.topic)!.id;
        request.set(id, [...(request.get(id) ?? []), f]);
      }
      let response: FetchResponse | undefined;
      try {
        response = await consumer.fetch({
          node: leader,
          maxWaitTime: settings.maxWaitTimeMs,
          minBytes: 1,
          maxBytes: settings.maxBytesPerPartition * fetches.length,
          isolationLevel: READ_COMMITTED,
          topics: [...request].map(([topicId, partitions]) => ({
            topicId,
            partitions: partitions.map((p) => ({
              partition: p.partition,
              fetchOffset: BigInt(p.offset),
              partitionMaxBytes: settings.maxBytesPerPartition,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
            })),
          })),
        });
      } catch (error) {
        response = responseOf(error);
        if (response === undefined) {
          failures.push(error);
          return;
        }
      }
      const asked = new Map(fetches.map((f) => [f.key, f]));
      for (const { topicId, partitions } of response.responses) {
        const topic = topicOfId.get(topicId);
        for (const answered of partitions) {
          const want = asked.get(`${topic}\u0000${answered.partitionIndex}`);
          if (want === undefined) continue;
          answers.push(answerOf(want, answered));
        }
      }
    }),
  );
  return { answers, failures };
}

/** The partition's answer: its records from the asked offset on, or its error. */
function answerOf(
  want: PartitionFetch,
  answered: FetchResponse['responses'][number]['partitions'][number],
): PartitionAnswer {
  if (answered.errorCode !== 0) {
    return { ...want, records: [], lastOffset: undefined, error: answered.errorCode };
  }
  let lastOffset: number | undefined;
  for (const batch of answered.records ?? []) {
    const last = Number(batch.firstOffset) + batch.lastOffsetDelta;
    if (lastOffset === undefined || last > lastOffset) lastOffset = last;
  }
  // The first batch may start before the asked offset: what lies below it was taken in already.
  const records = fetchedRecords([answered], want.offset);
  return { ...want, records, lastOffset };
}

/** The Fetch response a response error carries (the client keeps it on the error it throws). */
function responseOf(error: unknown): FetchResponse | undefined {
  for (const e of errorTree(error)) {
    const response = (e as { response?: Partial<FetchResponse> }).response;
    if (response !== undefined && Array.isArray(response.responses)) return response as FetchResponse;
  }
  return undefined;
}
