import type { StartPosition } from '@tidings/core/adapter';
import type { KafkaAdminClient } from '../client/admin';
import { type CommitMetadata, decodeCommitMetadata } from '../commit-metadata';
import { type PartitionState, partitionKey } from './partition';

/** @internal A group's committed position of one partition; offset -1 when it has none. */
export interface CommittedPosition {
  readonly offset: number;
  readonly metadata: CommitMetadata;
}

/** @internal Committed offsets and their metadata of a group, by partition key. */
export async function readCommitted(
  admin: KafkaAdminClient,
  group: string,
  states: readonly PartitionState[],
): Promise<Map<string, CommittedPosition>> {
  const out = new Map<string, CommittedPosition>();
  if (states.length === 0) return out;
  const topics = [...new Set(states.map((state) => state.topic))];
  const wanted = new Set(states.map((state) => state.key));
  for (const { topic, partitions } of await admin.groupOffsets(group, topics)) {
    for (const { partition, offset, metadata } of partitions) {
      const key = partitionKey(topic, partition);
      if (wanted.has(key)) out.set(key, { offset, metadata: decodeCommitMetadata(metadata) });
    }
  }
  return out;
}

/** @internal Where partitions without a committed position start: the log's start or end, by key. */
export async function startOffsets(
  admin: KafkaAdminClient,
  states: readonly PartitionState[],
  from: StartPosition,
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (states.length === 0) return out;
  const wanted = new Set(states.map((state) => state.key));
  for (const topic of new Set(states.map((state) => state.topic))) {
    for (const { partition, low, high } of await admin.topicEnds(topic)) {
      const key = partitionKey(topic, partition);
      if (wanted.has(key)) out.set(key, from === 'earliest' ? low : high);
    }
  }
  return out;
}
