import type { Consumer } from '@platformatic/kafka';
import { READ_COMMITTED } from './fetch-round';

/**
 * Where the group consumer on `@platformatic/kafka` starts fetching a partition: the group's
 * committed offset (OffsetFetch), else the earliest or the latest offset.
 *
 * @module
 */

/** ListOffsets' special timestamps: the earliest and the latest (last stable, read-committed) offset. */
const EARLIEST = -2n;
const LATEST = -1n;

/**
 * @internal The key of a partition in the consumer's maps.
 * @example
 * positions.set(keyOf('orders', 0), 42);
 */
export const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/**
 * @internal The offset to start each partition at, by {@link keyOf}: the group's committed offset,
 * else the earliest (`fromBeginning`) or latest offset.
 * @example
 * const starts = await startOffsets(consumer, [['orders', 0]], true);
 */
export async function startOffsets(
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
  partitions: readonly (readonly [string, number])[],
  fromBeginning: boolean,
): Promise<Map<string, number>> {
  const committed = await consumer.listCommittedOffsets({ topics: byTopic(partitions) });
  const starts = new Map<string, number>();
  const missing: (readonly [string, number])[] = [];
  for (const [topic, partition] of partitions) {
    const offset = committed.get(topic)?.[partition];
    if (offset !== undefined && offset >= 0n) starts.set(keyOf(topic, partition), Number(offset));
    else missing.push([topic, partition]);
  }
  if (missing.length > 0) {
    for (const [key, offset] of await endOffsets(consumer, missing, fromBeginning)) starts.set(key, offset);
  }
  return starts;
}

/**
 * @internal The earliest or latest (last stable) offset of each partition, by {@link keyOf}.
 * @example
 * const ends = await endOffsets(consumer, [['orders', 0]], false);
 */
export async function endOffsets(
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
  partitions: readonly (readonly [string, number])[],
  earliest: boolean,
): Promise<Map<string, number>> {
  const grouped = byTopic(partitions);
  const ends = await consumer.listOffsets({
    topics: grouped.map(({ topic }) => topic),
    partitions: Object.fromEntries(grouped.map(({ topic, partitions }) => [topic, partitions])),
    timestamp: earliest ? EARLIEST : LATEST,
    isolationLevel: READ_COMMITTED,
  });
  const out = new Map<string, number>();
  for (const [topic, partition] of partitions) {
    const offset = ends.get(topic)?.[partition];
    if (offset !== undefined) out.set(keyOf(topic, partition), Number(offset));
  }
  return out;
}

function byTopic(
  partitions: readonly (readonly [string, number])[],
): { topic: string; partitions: number[] }[] {
  const grouped = new Map<string, number[]>();
  for (const [topic, partition] of partitions) grouped.set(topic, [...(grouped.get(topic) ?? []), partition]);
  return [...grouped].map(([topic, numbers]) => ({ topic, partitions: numbers }));
}
