// Dead letters as JSON for the tools that show them (`tidings dlq --json`, the console): one shape,
// so a script written against one reads the other.
import type { DeadLetter } from './types';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A dead letter as JSON: ISO times, `null` for what is missing, the body as text when it is UTF-8
 * and as base64 otherwise, and the envelope when it was readable.
 *
 * @example
 * ```ts
 * const page = await operator.page({ topic: 'order.placed', group: 'billing' });
 * console.log(JSON.stringify(page.letters.map(deadLetterJson)));
 * ```
 */
export function deadLetterJson(letter: DeadLetter): Record<string, unknown> {
  let body: { text: string } | { base64: string };
  try {
    body = { text: UTF8.decode(letter.body) };
  } catch {
    body = { base64: Buffer.from(letter.body).toString('base64') };
  }
  const f = letter.failure;
  return {
    id: letter.id,
    topic: letter.topic,
    group: letter.group,
    deadLetterTopic: letter.deadLetterTopic,
    key: letter.key ?? null,
    type: letter.envelope?.type ?? null,
    headers: letter.headers,
    size: letter.body.byteLength,
    body,
    envelope: letter.envelope ?? null,
    decodeError: letter.decodeError?.message ?? null,
    failure: {
      reason: f.reason ?? null,
      errorName: f.errorName ?? null,
      errorMessage: f.errorMessage ?? null,
      attempts: f.attempts ?? null,
      firstFailureAt: f.firstFailureAt?.toISOString() ?? null,
      lastFailureAt: f.lastFailureAt?.toISOString() ?? null,
      originalPosition: f.originalPosition ?? null,
      reduced: f.reduced,
    },
  };
}
