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

/**
 * The header that addresses a redriven record to one consumer group. On a broker where every group
 * of a topic reads the same log (Kafka, NATS JetStream), a redrive that cannot reach the failed
 * group alone publishes the original to its topic again with this header: the subscriptions of the
 * other groups settle it as handled without calling their handlers, and the addressed group handles
 * it without the header. A consumer of such a topic written without Tidings should do the same.
 *
 * @example
 * ```ts
 * // In a plain client's consumer of a Tidings topic, for the group "audit":
 * const addressed = headers[REDRIVE_GROUP_HEADER];
 * if (addressed !== undefined && addressed !== 'audit') commit(); // another group's redrive
 * ```
 */
export const REDRIVE_GROUP_HEADER = 'tidings-redrive-group';

/**
 * The headers of a redriven copy addressed to `group`: the letter's headers without its failure
 * metadata and retry state ({@link redriveHeaders}), plus {@link REDRIVE_GROUP_HEADER}.
 *
 * @example
 * ```ts
 * const record = { topic: at.topic, key: letter.key, headers: addressTo(letter.headers, at.group), body: letter.body };
 * ```
 */
export function addressTo(headers: RecordHeaders, group: string): Record<string, string> {
  const addressed = redriveHeaders(headers);
  addressed[REDRIVE_GROUP_HEADER] = group;
  return addressed;
}

/**
 * The group an incoming record was redriven to, or undefined when it is not a redriven copy
 * addressed to one group (every group of the topic handles it).
 *
 * @example
 * ```ts
 * if (addressedGroup(record.headers) === 'billing') console.log('redriven for billing');
 * ```
 */
export function addressedGroup(headers: RecordHeaders): string | undefined {
  return headers[REDRIVE_GROUP_HEADER];
}

/**
 * What a subscription of `group` does with an incoming record: undefined when a redrive addressed
 * it to another group (settle it as handled, without calling the handler: this group handled the
 * original already), else the record to hand on, without the address, so that the handler and a
 * later dead letter of it see the original's headers only.
 *
 * @example
 * ```ts
 * const own = recordForGroup(record, spec.group);
 * if (own === undefined) return ack(record); // another group's redrive
 * return handler(own);
 * ```
 */
export function recordForGroup<TRecord extends { readonly headers: RecordHeaders }>(
  record: TRecord,
  group: string,
): TRecord | undefined {
  const addressed = addressedGroup(record.headers);
  if (addressed === undefined) return record;
  if (addressed !== group) return undefined;
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(record.headers)) {
    if (name !== REDRIVE_GROUP_HEADER) headers[name] = value;
  }
  return { ...record, headers };
}
