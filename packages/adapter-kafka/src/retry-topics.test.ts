import { attemptOf, type IncomingRecord, RETRY_NOW, type RetrySettlement } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import {
  KAFKA_RETRY_HEADERS,
  nextCopyHeaders,
  readRetryEnvelope,
  retryTopicHeaders,
  tierOf,
} from './retry-topics';

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
});
