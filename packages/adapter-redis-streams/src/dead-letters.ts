import {
  type DeadLetterLimits,
  type DeadLetterSettlement,
  type FittedDeadLetter,
  fitDeadLetter,
  type IncomingRecord,
  settlementHeaders,
} from '@tidings/core/adapter';
import { encodeFields } from './codec';
import type { RedisClient } from './connection';
import { failureKind } from './connection';
import { clusterKeys, type KeyNames, tagOf } from './keys';
import { deadLetter, settleDeadLettered } from './scripts';

/**
 * The limits a dead letter is fitted to (see `fitDeadLetter`). Redis itself takes values up to
 * 512 MiB (`proto-max-bulk-len`), so what bounds a dead letter is the adapter's own limit,
 * `maxMessageBytes`, which it applies to bodies: the dead letter keeps a body the adapter would
 * publish (so it can be redriven as it is), and its headers may take as many bytes again. A
 * record written by another producer with a body over the limit loses its body in the dead
 * letter (its size and SHA-256 are kept); headers over the limit are cut.
 */
export function deadLetterLimits(maxMessageBytes: number): DeadLetterLimits {
  return { maxBytes: 2 * maxMessageBytes, maxBodyBytes: maxMessageBytes, maxHeaderBytes: maxMessageBytes };
}

/** Where a dead letter goes and where the original sits. */
export interface DeadLetterTarget {
  /** The stream the record was read from. */
  readonly source: string;
  /** The dead-letter stream (the settlement's topic, or its shard for the record's key). */
  readonly target: string;
  readonly group: string;
  /** The original's entry id. */
  readonly id: string;
  /** The names of the side keys; {@link clusterKeys} on a cluster. */
  readonly keys: KeyNames;
}

/**
 * Writes the dead letter of `record` and acknowledges the original, in one script (`XADD` then
 * `XACK`: a failing `XADD` stops the script before the acknowledgement). On a cluster, where the
 * two streams lie in different slots, in two steps: the `XADD`, then the acknowledgement; a crash
 * between them leaves the original pending, to be dead-lettered again (a duplicate, never a loss). The dead letter is the
 * full copy when it fits {@link deadLetterLimits}, else the reduced one; when Redis refuses it for
 * its size all the same (a server with a smaller `proto-max-bulk-len`), the minimal copy is
 * written, once. Resolves with what was written; rejects with Redis's error when even that failed.
 */
export async function writeDeadLetter(
  redis: RedisClient,
  at: DeadLetterTarget,
  record: IncomingRecord,
  settlement: DeadLetterSettlement,
  maxMessageBytes: number,
): Promise<FittedDeadLetter> {
  const headers = settlementHeaders(record.headers, settlement.headers);
  const limits = deadLetterLimits(maxMessageBytes);
  const letter = fitDeadLetter(headers, record.body, limits);
  try {
    await run(redis, at, record, letter);
    return letter;
  } catch (error) {
    if (failureKind(error) !== 'too-large') throw error;
  }
  const minimal = fitDeadLetter(headers, record.body, { ...limits, minimal: true });
  await run(redis, at, record, minimal);
  return minimal;
}

async function run(
  redis: RedisClient,
  at: DeadLetterTarget,
  record: IncomingRecord,
  letter: FittedDeadLetter,
): Promise<void> {
  const fields = encodeFields({ key: record.key, headers: letter.headers, body: letter.body });
  const sideKeys = [at.keys.retryHeaders(at.source, at.group), at.keys.due(at.source, at.group)];
  if (at.keys !== clusterKeys || tagOf(at.source) === tagOf(at.target)) {
    await deadLetter.run(redis, [at.source, at.target, ...sideKeys], [at.group, at.id, ...fields]);
    return;
  }
  await redis.callBuffer('xadd', at.target, '*', ...fields);
  await settleDeadLettered.run(redis, [at.source, ...sideKeys], [at.group, at.id]);
}
