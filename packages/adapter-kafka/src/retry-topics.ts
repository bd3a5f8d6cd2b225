import {
  ConfigError,
  type IncomingRecord,
  RETRY_HEADERS,
  type RecordHeaders,
  type RetrySettlement,
  type SubscribeSpec,
  settlementHeaders,
} from '@tidings/core/adapter';
import { positionOf } from './codec';
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

/** @internal How a Kafka topic of a subscription maps to the topic the core knows. */
export interface Route {
  /** The subscribed topic; for a retry topic, the topic its records were first published to. */
  readonly source: string;
  readonly retryTopic: boolean;
}

/**
 * @internal The Kafka topics one subscription consumes: the subscribed ones and, for an unordered
 * subscription while retry topics are on, one retry topic per subscribed topic and delay tier.
 */
export class TopicRoutes {
  private readonly routes = new Map<string, Route>();
  /** Retry topics by subscribed topic and tier. */
  private readonly retryTopics = new Map<string, Map<number, string>>();
  /** The delay tiers; undefined when the subscription retries in place. */
  private readonly tiersMs: readonly number[] | undefined;

  constructor(spec: SubscribeSpec, retryTopics: ResolvedKafkaOptions['retryTopics']) {
    this.tiersMs = retryTopics !== false && spec.ordering === 'none' ? retryTopics.tiersMs : undefined;
    for (const topic of spec.topics) {
      this.routes.set(topic, { source: topic, retryTopic: false });
      if (retryTopics === false || this.tiersMs === undefined) continue;
      const byTier = new Map<number, string>();
      for (const tier of this.tiersMs) {
        const name = retryTopics.name(topic, spec.group, tier);
        byTier.set(tier, name);
        this.routes.set(name, { source: topic, retryTopic: true });
      }
      this.retryTopics.set(topic, byTier);
    }
  }

  /** Every Kafka topic the subscription consumes. */
  get kafkaTopics(): string[] {
    return [...this.routes.keys()];
  }

  /** Where the records of a consumed Kafka topic belong; undefined for a topic not consumed. */
  route(kafkaTopic: string): Route | undefined {
    return this.routes.get(kafkaTopic);
  }

  /**
   * The retry topic a retry of `delayMs` of a record of `topic` goes to, or undefined when the
   * subscription retries in place.
   */
  retryTopic(topic: string, delayMs: number): string | undefined {
    if (this.tiersMs === undefined) return undefined;
    return this.retryTopics.get(topic)?.get(tierOf(delayMs, this.tiersMs));
  }
}

/** @internal Where a record fetched from a retry topic came from, and when it may be delivered. */
export interface RetryEnvelope {
  /** Epoch milliseconds; 0 when the record carries no due time. */
  readonly dueAt: number;
  /** `topic/partition@offset` of the original record, when known. */
  readonly originalPosition: string | undefined;
}

/**
 * @internal Reads the headers the adapter writes into a retry record (its attempt is read like any
 * record's, by the kit's `attemptOf`).
 */
export function readRetryEnvelope(headers: RecordHeaders): RetryEnvelope {
  const due = Date.parse(headers[KAFKA_RETRY_HEADERS.dueAt] ?? '');
  const topic = headers[KAFKA_RETRY_HEADERS.originalTopic];
  const partition = headers[KAFKA_RETRY_HEADERS.originalPartition];
  const offset = headers[KAFKA_RETRY_HEADERS.originalOffset];
  return {
    dueAt: Number.isFinite(due) ? due : 0,
    originalPosition:
      topic !== undefined && partition !== undefined && offset !== undefined
        ? positionOf(topic, partition, offset)
        : undefined,
  };
}

/**
 * @internal The headers of a retried record's next copy, re-published to a retry topic or delivered
 * again in place: the record's own with the settlement's written over them. The core's retry
 * settlement carries the next attempt and the first failure time; one that does not (the handler
 * broke its promise, and `RETRY_NOW` is applied) gets them here, so that the attempt still rises
 * and `maxAttempts` still ends the retries.
 */
export function nextCopyHeaders(
  record: IncomingRecord,
  settlement: RetrySettlement,
  now: number = Date.now(),
): Record<string, string> {
  const headers = settlementHeaders(record.headers, settlement.headers);
  if (settlement.headers[RETRY_HEADERS.attempt] === undefined) {
    headers[RETRY_HEADERS.attempt] = String(record.attempt + 1);
  }
  headers[RETRY_HEADERS.firstFailureAt] ??= new Date(now).toISOString();
  return headers;
}

/**
 * @internal Adds to a copy's headers (see {@link nextCopyHeaders}) what a retry topic's record
 * carries besides: the due time, and the original position unless an earlier hop wrote it.
 */
export function retryTopicHeaders(
  headers: Record<string, string>,
  dueAt: number,
  origin: { readonly topic: string; readonly partition: number; readonly offset: number },
): Record<string, string> {
  headers[KAFKA_RETRY_HEADERS.dueAt] = new Date(dueAt).toISOString();
  if (headers[KAFKA_RETRY_HEADERS.originalTopic] === undefined) {
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
