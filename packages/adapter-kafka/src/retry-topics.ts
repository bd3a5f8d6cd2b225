import {
  ConfigError,
  RETRY_HEADERS,
  type RecordHeaders,
  type SubscribeSpec,
  settlementHeaders,
} from '@tidings/core/adapter';
import type { ResolvedKafkaOptions } from './options';
import { topicNameProblem } from './topics';

/**
 * Headers the adapter adds to a record it re-publishes to a retry topic, beside the core's
 * `tidings-attempt` and `tidings-first-failure-at`. The original position is kept from the first
 * hop, so a record that is retried several times still says where it came from.
 *
 * @example
 * ```ts
 * bus.subscribe(OrderPlaced, { group: 'billing', ordering: 'none' }, async (event, ctx) => {
 *   const due = ctx.record.headers[KAFKA_RETRY_HEADERS.dueAt]; // set on attempts after the first
 * });
 * ```
 */
export const KAFKA_RETRY_HEADERS = {
  /** ISO-8601 time before which the record must not be delivered again. */
  dueAt: 'tidings-retry-due-at',
  /** Topic, partition and offset of the record as first published. */
  originalTopic: 'tidings-original-topic',
  originalPartition: 'tidings-original-partition',
  originalOffset: 'tidings-original-offset',
} as const;

/** @internal The tier (lower bound, in ms) a retry delay belongs to: the highest bound not above it. */
export function tierOf(delayMs: number, tiersMs: readonly number[]): number {
  let tier = tiersMs[0]!;
  for (const bound of tiersMs) {
    if (bound <= delayMs) tier = bound;
    else break;
  }
  return tier;
}

/** @internal Where a record fetched from a retry topic came from, and when it may be delivered. */
export interface RetryEnvelope {
  readonly attempt: number;
  /** Epoch milliseconds; 0 when the record carries no due time. */
  readonly dueAt: number;
  /** `topic/partition@offset` of the original record, when known. */
  readonly originalPosition: string | undefined;
}

/** @internal Reads the retry headers of a record fetched from a retry topic. */
export function readRetryEnvelope(headers: RecordHeaders): RetryEnvelope {
  const attempt = Number(headers[RETRY_HEADERS.attempt]);
  const due = Date.parse(headers[KAFKA_RETRY_HEADERS.dueAt] ?? '');
  const topic = headers[KAFKA_RETRY_HEADERS.originalTopic];
  const partition = headers[KAFKA_RETRY_HEADERS.originalPartition];
  const offset = headers[KAFKA_RETRY_HEADERS.originalOffset];
  return {
    // A record on a retry topic has failed at least once.
    attempt: Number.isInteger(attempt) && attempt >= 1 ? attempt : 2,
    dueAt: Number.isFinite(due) ? due : 0,
    originalPosition:
      topic !== undefined && partition !== undefined && offset !== undefined
        ? `${topic}/${partition}@${offset}`
        : undefined,
  };
}

/**
 * @internal The headers of a retry record: the record's own, the core's retry headers, the due time,
 * and the original position unless an earlier hop set it.
 */
export function retryRecordHeaders(
  own: RecordHeaders,
  fromCore: RecordHeaders,
  nextAttempt: number,
  dueAt: number,
  origin: { readonly topic: string; readonly partition: number; readonly offset: number },
): Record<string, string> {
  const headers = settlementHeaders(own, fromCore);
  headers[RETRY_HEADERS.attempt] ??= String(nextAttempt);
  headers[KAFKA_RETRY_HEADERS.dueAt] = new Date(dueAt).toISOString();
  if (own[KAFKA_RETRY_HEADERS.originalTopic] === undefined) {
    headers[KAFKA_RETRY_HEADERS.originalTopic] = origin.topic;
    headers[KAFKA_RETRY_HEADERS.originalPartition] = String(origin.partition);
    headers[KAFKA_RETRY_HEADERS.originalOffset] = String(origin.offset);
  }
  return headers;
}

/**
 * @internal Checks, before a subscription is made, that the retry topics of an unordered one have
 * legal Kafka names: a `ConfigError` naming `retryTopics.name` when the namer throws, `group` when
 * the name it makes (usually from the group) is not one.
 */
export function checkRetryTopicNames(
  spec: SubscribeSpec,
  retryTopics: ResolvedKafkaOptions['retryTopics'],
): void {
  if (retryTopics === false || spec.ordering !== 'none') return;
  for (const topic of spec.topics) {
    for (const tier of retryTopics.tiersMs) {
      let retryTopic: string;
      try {
        retryTopic = retryTopics.name(topic, spec.group, tier);
      } catch (error) {
        throw new ConfigError('retryTopics.name', `failed for "${topic}": ${(error as Error)?.message}`, {
          cause: error,
        });
      }
      const problem = topicNameProblem(retryTopic);
      if (problem !== undefined) {
        throw new ConfigError(
          'group',
          `the retry topic of group "${spec.group}" on "${topic}" is not a legal Kafka topic: ${problem}`,
        );
      }
    }
  }
}
