import { DEAD_LETTER_HEADERS, RETRY_HEADERS, type RecordHeaders } from '../contract';

const FAILURE_HEADERS: ReadonlySet<string> = new Set([
  ...Object.values(DEAD_LETTER_HEADERS),
  ...Object.values(RETRY_HEADERS),
]);

/**
 * The headers of a dead letter without its failure metadata and retry state: what a redriven
 * record carries, so that its group sees it as a first delivery (attempt 1) of the original.
 *
 * @example
 * ```ts
 * const headers = redriveHeaders(letter.headers); // no tidings-dlq-* nor tidings-attempt
 * ```
 */
export function redriveHeaders(headers: RecordHeaders): Record<string, string> {
  const kept: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(headers)) {
    if (!FAILURE_HEADERS.has(name)) kept[name] = value;
  }
  return kept;
}
