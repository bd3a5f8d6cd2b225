/**
 * What the adapter stores in the metadata string of a committed offset. Kafka keeps it with the
 * group's position, so it survives crashes and moves with the partition to its next owner:
 *
 * - the retry state of records waiting for an in-consumer (blocking) retry, so that their attempt
 *   count and first failure time survive a crash, a rebalance or a restart;
 * - a drain marker, written when a rebalance starts while records of the partition are still being
 *   handled: the next owner waits (up to `drainMs`) until the previous owner has finished them and
 *   committed, instead of handling them a second time.
 *
 * @module
 */

/**
 * Retry state of one record, kept until it is settled.
 *
 * @example
 * ```ts
 * const mark: RetryMark = { attempt: 3, firstFailureAt: '2024-05-01T10:00:00.000Z' };
 * ```
 */
export interface RetryMark {
  /** The attempt number of the record's next delivery. */
  readonly attempt: number;
  /** ISO-8601 time of its first failed attempt. */
  readonly firstFailureAt: string;
}

/**
 * A previous owner still handling records of the partition.
 *
 * @example
 * ```ts
 * const { drain } = decodeCommitMetadata(metadata);
 * if (drain !== undefined) console.log(`draining by ${drain.owner}, for at most ${drain.drainMs} ms`);
 * ```
 */
export interface DrainMarker {
  /** The subscription instance that wrote it. */
  readonly owner: string;
  /** How long the next owner waits for the marker to be cleared, in milliseconds. */
  readonly drainMs: number;
}

/**
 * The decoded metadata of one committed offset.
 *
 * @example
 * ```ts
 * const [{ partitions }] = await admin.fetchOffsets({ groupId: 'billing', topics: ['orders'] });
 * for (const { partition, offset, metadata } of partitions) {
 *   const { retries, drain } = decodeCommitMetadata(metadata);
 *   console.log(partition, offset, [...retries], drain);
 * }
 * ```
 */
export interface CommitMetadata {
  readonly retries: ReadonlyMap<number, RetryMark>;
  readonly drain: DrainMarker | undefined;
}

const PREFIX = 'tidings:1:';
/** Brokers refuse metadata above `offset.metadata.max.bytes` (4096 by default); stay well below. */
export const MAX_METADATA_LENGTH = 2_000;

const EMPTY: CommitMetadata = Object.freeze({ retries: new Map<number, RetryMark>(), drain: undefined });

/**
 * Encodes the retry marks at or above `from` (lower ones are settled or committed past) and the
 * drain marker. Marks that do not fit are left out, highest offsets first: those records are
 * delivered last after a restart and lose only their attempt count.
 */
export function encodeCommitMetadata(
  retries: ReadonlyMap<number, RetryMark>,
  from: number,
  drain: DrainMarker | undefined,
): string {
  const marks = [...retries]
    .filter(([offset]) => offset >= from)
    .sort(([a], [b]) => a - b)
    .map(([offset, mark]) => [offset, mark.attempt, mark.firstFailureAt] as const);
  if (marks.length === 0 && drain === undefined) return '';
  const payload: { r?: (readonly [number, number, string])[]; d?: readonly [string, number] } = {};
  if (drain !== undefined) payload.d = [drain.owner, drain.drainMs];
  for (let count = marks.length; count >= 0; count--) {
    if (count > 0) payload.r = marks.slice(0, count);
    else delete payload.r;
    const text = PREFIX + JSON.stringify(payload);
    if (text.length <= MAX_METADATA_LENGTH) return text;
  }
  return '';
}

/**
 * Decodes the offset metadata the adapter commits (see {@link CommitMetadata}); metadata written by
 * anything else reads as empty. For tooling that inspects a group's positions.
 *
 * @example
 * ```ts
 * const { retries } = decodeCommitMetadata(partition.metadata);
 * const waiting = [...retries].map(([offset, mark]) => `${offset}: attempt ${mark.attempt}`);
 * ```
 */
export function decodeCommitMetadata(text: string | null | undefined): CommitMetadata {
  if (typeof text !== 'string' || !text.startsWith(PREFIX)) return EMPTY;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(PREFIX.length));
  } catch {
    return EMPTY;
  }
  if (parsed === null || typeof parsed !== 'object') return EMPTY;
  const { r, d } = parsed as { r?: unknown; d?: unknown };
  const retries = new Map<number, RetryMark>();
  if (Array.isArray(r)) {
    for (const entry of r) {
      if (!Array.isArray(entry)) continue;
      const [offset, attempt, firstFailureAt] = entry as unknown[];
      if (
        Number.isSafeInteger(offset) &&
        Number.isInteger(attempt) &&
        (attempt as number) >= 1 &&
        typeof firstFailureAt === 'string'
      ) {
        retries.set(offset as number, { attempt: attempt as number, firstFailureAt });
      }
    }
  }
  let drain: DrainMarker | undefined;
  if (Array.isArray(d) && typeof d[0] === 'string' && Number.isInteger(d[1]) && (d[1] as number) >= 0) {
    drain = { owner: d[0], drainMs: d[1] as number };
  }
  return { retries, drain };
}
