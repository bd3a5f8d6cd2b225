import { describe, expect, it } from 'vitest';
import { KAFKA_RETRY_HEADERS, readRetryEnvelope, retryRecordHeaders, tierOf } from './retry-topics';

describe('retry topics', () => {
  it('puts a delay in the highest tier not above it', () => {
    const tiers = [0, 10_000, 60_000];
    expect([0, 300, 9_999, 10_000, 59_999, 60_000, 3_600_000].map((d) => tierOf(d, tiers))).toEqual([
      0, 0, 0, 10_000, 10_000, 60_000, 60_000,
    ]);
  });

  it('writes the due time and the original position once, and reads them back', () => {
    const dueAt = Date.parse('2024-05-01T10:00:01.500Z');
    const first = retryRecordHeaders(
      { 'x-app': 'kept', 'tidings-attempt': '1' },
      { 'tidings-attempt': '2', 'tidings-first-failure-at': '2024-05-01T10:00:00.000Z' },
      2,
      dueAt,
      { topic: 'orders', partition: 2, offset: 41 },
    );
    expect(first).toEqual({
      'x-app': 'kept',
      'tidings-attempt': '2',
      'tidings-first-failure-at': '2024-05-01T10:00:00.000Z',
      [KAFKA_RETRY_HEADERS.dueAt]: '2024-05-01T10:00:01.500Z',
      [KAFKA_RETRY_HEADERS.originalTopic]: 'orders',
      [KAFKA_RETRY_HEADERS.originalPartition]: '2',
      [KAFKA_RETRY_HEADERS.originalOffset]: '41',
    });
    // A second hop, from the retry topic, keeps where the record first came from.
    const second = retryRecordHeaders(first, {}, 3, dueAt + 1_000, {
      topic: 'orders.g.retry-0s',
      partition: 0,
      offset: 7,
    });
    expect(second[KAFKA_RETRY_HEADERS.originalTopic]).toBe('orders');
    expect(second['tidings-attempt']).toBe('2');
    expect(readRetryEnvelope(second)).toEqual({
      attempt: 2,
      dueAt: dueAt + 1_000,
      originalPosition: 'orders/2@41',
    });
  });

  it('reads a retry record without headers as a second attempt due at once', () => {
    expect(readRetryEnvelope({})).toEqual({ attempt: 2, dueAt: 0, originalPosition: undefined });
  });
});
