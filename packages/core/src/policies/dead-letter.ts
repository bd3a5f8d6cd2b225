import { DEAD_LETTER_HEADERS, type DeadLetterSettlement, RETRY_HEADERS } from '../adapters/contract';
import type { MessageContext } from '../context/delivery';
import { isoAt } from '../envelope/clock';
import { redactUrls } from '../internal/redact';
import { clip } from '../internal/text';
import { firstFailureOf } from './retry';

/** Names the dead-letter topic of a record's topic for a consumer group. */
export type DeadLetterTopicNamer = (topic: string, group: string) => string;

/** The default dead-letter topic: one per topic and consumer group, `<topic>.<group>.dlq`. */
export const defaultDeadLetterTopic: DeadLetterTopicNamer = (topic, group) => `${topic}.${group}.dlq`;

// Header values stay small enough for every broker's header limits.
const MAX_HEADER_TEXT = 1_000;

/**
 * Builds the dead-letter settlement of a record that failed with `error`: the failure metadata
 * (reason, error, attempts, original topic, position and key, consumer group, first and last
 * failure time) travels as headers beside the record's own.
 */
export function deadLetterSettlement(
  ctx: MessageContext,
  error: Error,
  namer: DeadLetterTopicNamer = defaultDeadLetterTopic,
  now: number = Date.now(),
): DeadLetterSettlement {
  const { record } = ctx;
  // The ISO string of the millisecond is shared (see isoAt): a Date's costs ~1.5 µs here.
  const lastFailureAt = isoAt(now);
  const reason = truncate(`${error.name}: ${error.message}`);
  const headers: Record<string, string> = {
    // A dead letter is a new record for the readers of the dead-letter topic: its first delivery
    // is attempt 1, whatever the original's last retry header said.
    [RETRY_HEADERS.attempt]: '1',
    [DEAD_LETTER_HEADERS.reason]: reason,
    [DEAD_LETTER_HEADERS.errorName]: error.name,
    [DEAD_LETTER_HEADERS.errorMessage]: truncate(error.message),
    [DEAD_LETTER_HEADERS.attempts]: String(ctx.attempt),
    [DEAD_LETTER_HEADERS.originalTopic]: record.topic,
    [DEAD_LETTER_HEADERS.originalPosition]: record.position,
    [DEAD_LETTER_HEADERS.group]: ctx.group,
    [DEAD_LETTER_HEADERS.firstFailureAt]: firstFailureOf(record.headers) ?? lastFailureAt,
    [DEAD_LETTER_HEADERS.lastFailureAt]: lastFailureAt,
  };
  // The failure metadata stays small whatever the record holds; a longer key is cut (its
  // position still finds the original).
  if (record.key !== undefined) headers[DEAD_LETTER_HEADERS.originalKey] = clip(record.key, MAX_HEADER_TEXT);
  return { type: 'deadLetter', topic: namer(record.topic, ctx.group), reason, headers };
}

function truncate(text: string): string {
  // One line, no URL credentials: a dead letter is read by operators and tools.
  const oneLine = redactUrls(text).replace(/[\r\n]+/g, ' ');
  return oneLine.length <= MAX_HEADER_TEXT ? oneLine : `${oneLine.slice(0, MAX_HEADER_TEXT - 1)}…`;
}
