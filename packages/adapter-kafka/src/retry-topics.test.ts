import {
  attemptOf,
  type IncomingRecord,
  RETRY_NOW,
  type RetrySettlement,
  type SubscribeSpec,
} from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { defaultRetryTopicName } from './options';
import {
  checkRetryTopicNames,
  KAFKA_RETRY_HEADERS,
  nextCopyHeaders,
  readRetryEnvelope,
  retryTopicHeaders,
  TopicRoutes,
  tierOf,
} from './retry-topics';

const spec = (overrides: Partial<SubscribeSpec> = {}): SubscribeSpec => ({
  group: 'billing',
  topics: ['orders', 'refunds'],
  concurrency: 1,
  prefetch: overrides.concurrency ?? 1,
  ordering: 'none',
  startFrom: 'earliest',
  maxAttempts: 5,
  handlerTimeoutMs: 0,
  ...overrides,
});
const retryTopics = { tiersMs: [0, 10_000], name: defaultRetryTopicName } as const;

function record(headers: Record<string, string>): IncomingRecord {
  return {
    topic: 'orders',
    key: 'k',
    headers,
    body: new Uint8Array(0),
    attempt: attemptOf(headers),
    position: 'orders/2@41',
  };
}

describe('retry topics', () => {
  it('puts a delay in the highest tier not above it', () => {
    const tiers = [0, 10_000, 60_000];
    expect([0, 300, 9_999, 10_000, 59_999, 60_000, 3_600_000].map((d) => tierOf(d, tiers))).toEqual([
      0, 0, 0, 10_000, 10_000, 60_000, 60_000,
    ]);
  });

  it('writes the due time and the original position once, and reads them back', () => {
    const dueAt = Date.parse('2024-05-01T10:00:01.500Z');
    const settlement: RetrySettlement = {
      type: 'retry',
      delayMs: 1_500,
      headers: { 'tidings-attempt': '2', 'tidings-first-failure-at': '2024-05-01T10:00:00.000Z' },
    };
    const first = retryTopicHeaders(
      nextCopyHeaders(record({ 'x-app': 'kept', 'tidings-attempt': '1' }), settlement),
      dueAt,
      { topic: 'orders', partition: 2, offset: 41 },
    );
    expect({ ...first }).toEqual({
      'x-app': 'kept',
      'tidings-attempt': '2',
      'tidings-first-failure-at': '2024-05-01T10:00:00.000Z',
      [KAFKA_RETRY_HEADERS.dueAt]: '2024-05-01T10:00:01.500Z',
      [KAFKA_RETRY_HEADERS.originalTopic]: 'orders',
      [KAFKA_RETRY_HEADERS.originalPartition]: '2',
      [KAFKA_RETRY_HEADERS.originalOffset]: '41',
    });
    // A second hop, from the retry topic, keeps where the record first came from.
    const second = retryTopicHeaders(
      nextCopyHeaders(record(first), { ...settlement, headers: { 'tidings-attempt': '3' } }),
      dueAt + 1_000,
      { topic: 'orders.g.retry-0s', partition: 0, offset: 7 },
    );
    expect(second[KAFKA_RETRY_HEADERS.originalTopic]).toBe('orders');
    expect(attemptOf(second)).toBe(3);
    expect(second['tidings-first-failure-at']).toBe('2024-05-01T10:00:00.000Z');
    expect(readRetryEnvelope(second)).toEqual({ dueAt: dueAt + 1_000, originalPosition: 'orders/2@41' });
  });

  it('raises the attempt of a copy whose settlement did not say it (a broken promise)', () => {
    const copy = nextCopyHeaders(record({ 'tidings-attempt': '3' }), RETRY_NOW as RetrySettlement, 0);
    expect(attemptOf(copy)).toBe(4);
    expect(copy['tidings-first-failure-at']).toBe('1970-01-01T00:00:00.000Z');
    expect(Object.getPrototypeOf(copy)).toBeNull();
  });

  it('reads a retry record without headers as due at once, from nowhere known', () => {
    expect(readRetryEnvelope({})).toEqual({ dueAt: 0, originalPosition: undefined });
  });

  it('routes the retry topics of an unordered subscription back to their topics', () => {
    const routes = new TopicRoutes(spec(), retryTopics);
    expect(routes.kafkaTopics).toEqual([
      'orders',
      'orders.billing.retry-0s',
      'orders.billing.retry-10s',
      'refunds',
      'refunds.billing.retry-0s',
      'refunds.billing.retry-10s',
    ]);
    expect(routes.route('orders.billing.retry-10s')).toEqual({ source: 'orders', retryTopic: true });
    expect(routes.route('refunds')).toEqual({ source: 'refunds', retryTopic: false });
    expect(routes.retryTopic('refunds', 30_000)).toBe('refunds.billing.retry-10s');
    // Ordered subscriptions, and retryTopics: false, retry in place.
    const ordered = new TopicRoutes(spec({ ordering: 'key' }), retryTopics);
    expect(ordered.kafkaTopics).toEqual(['orders', 'refunds']);
    expect(ordered.retryTopic('orders', 0)).toBeUndefined();
    expect(new TopicRoutes(spec(), false).retryTopic('orders', 0)).toBeUndefined();
  });

  it('refuses a retry topic name Kafka would refuse, naming the field at fault', () => {
    expect(() => checkRetryTopicNames(spec(), retryTopics)).not.toThrow();
    expect(() => checkRetryTopicNames(spec({ group: 'bil ling' }), retryTopics)).toThrow(
      expect.objectContaining({ code: 'CONFIG', field: 'group' }),
    );
    const throwing = {
      ...retryTopics,
      name: () => {
        throw new Error('no names today');
      },
    };
    expect(() => checkRetryTopicNames(spec(), throwing)).toThrow(
      expect.objectContaining({
        field: 'retryTopics.name',
        message: expect.stringMatching(/no names today/),
      }),
    );
    expect(() =>
      checkRetryTopicNames(spec({ ordering: 'key', group: 'bil ling' }), retryTopics),
    ).not.toThrow();
  });
});
