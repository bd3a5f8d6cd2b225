/**
 * Dead letters as stored in a RabbitMQ queue: their ids and how a message reads as one.
 *
 * A classic or quorum queue has no offsets, and a quorum queue does not even keep its order: a
 * message given back (as a browse gives back every letter it looked at) goes to the front, in an
 * order of its own. So the adapter stamps each dead letter with an id when it publishes it, and
 * the store order is the order of those ids, not the queue's.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { DEAD_LETTER_HEADERS, type StoredDeadLetter } from '@tidings/core/adapter';
import type { Message } from 'amqplib';
import { incomingRecordOf, LETTER_ID_HEADER } from './codec';

/** Tells this process's ids apart from another's stamped in the same millisecond. */
const PROCESS_TAG = randomBytes(6).toString('base64url');
let lastMs = 0;
let sequence = 0;

/**
 * A new dead-letter id: `<ms, 13 digits>-<sequence, 6 base-36 digits>-<process tag>`. Ids sort as
 * strings; one process's ids grow strictly, even when its clock steps back, so its letters are in
 * the order it published them. Across processes the order is that of their clocks.
 *
 * @example
 * ```ts
 * letterId(); // '1764669600000-000000-3kTq0aZb'
 * ```
 */
export function letterId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    sequence = 0;
  } else {
    sequence++;
    // 36^6 ids in one millisecond cannot happen; borrow the next millisecond if it ever did.
    if (sequence >= 36 ** 6) {
      lastMs++;
      sequence = 0;
    }
  }
  return `${String(lastMs).padStart(13, '0')}-${sequence.toString(36).padStart(6, '0')}-${PROCESS_TAG}`;
}

/** What every id this adapter hands out looks like: a stamped one, or the fallback of {@link idOf}. */
const LETTER_ID = /^\d{13}-(?:[0-9a-z]{6}-[\w-]+|~[0-9a-f]{24})$/;

/** Whether `id` is one of this adapter's dead-letter ids. */
export function isLetterId(id: string): boolean {
  return LETTER_ID.test(id);
}

/**
 * The id of a stored message: its stamp; for a dead letter published before the adapter stamped
 * them, its last failure time and a digest of its content (`~` sorts after the stamped ids of the
 * same millisecond).
 */
export function idOf(message: Message): string {
  const headers: Record<string, unknown> = message.properties.headers ?? {};
  const stamp = Object.hasOwn(headers, LETTER_ID_HEADER) ? headers[LETTER_ID_HEADER] : undefined;
  const text = Buffer.isBuffer(stamp) ? stamp.toString('utf8') : stamp;
  if (typeof text === 'string' && isLetterId(text)) return text;
  const failedAt = headers[DEAD_LETTER_HEADERS.lastFailureAt];
  const ms = typeof failedAt === 'string' ? Date.parse(failedAt) : Number.NaN;
  const digest = createHash('sha256')
    .update(String(message.properties.messageId ?? ''))
    .update(JSON.stringify(headers))
    .update(message.content)
    .digest('hex')
    .slice(0, 24);
  return `${String(Number.isNaN(ms) ? 0 : Math.max(0, ms)).padStart(13, '0')}-~${digest}`;
}

/** The dead letter a message of a dead-letter queue holds: the record as its group would read it. */
export function letterOf(message: Message, queue: string): StoredDeadLetter {
  // The queue type only matters for the attempt, which a stored letter does not show.
  const record = incomingRecordOf(message, queue, 'classic');
  return { id: idOf(message), key: record.key, headers: record.headers, body: record.body };
}
