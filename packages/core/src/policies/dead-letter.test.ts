import { describe, expect, it } from 'vitest';
import { testContext } from '../../test/support/contexts';
import { ValidationError } from '../errors';
import { deadLetterSettlement } from './dead-letter';

describe('deadLetterSettlement', () => {
  it('writes the failure metadata beside the record', () => {
    const ctx = testContext({
      attempt: 5,
      headers: { 'tidings-first-failure-at': '2026-11-24T10:00:00.000Z' },
    });
    expect(deadLetterSettlement(ctx, new Error('mailer down'))).toEqual({
      type: 'deadLetter',
      topic: 'order.placed.billing.dlq',
      reason: 'Error: mailer down',
      headers: {
        'tidings-attempt': '1',
        'tidings-dlq-reason': 'Error: mailer down',
        'tidings-dlq-error-name': 'Error',
        'tidings-dlq-error-message': 'mailer down',
        'tidings-dlq-attempts': '5',
        'tidings-dlq-original-topic': 'order.placed',
        'tidings-dlq-original-position': 'order.placed@7',
        'tidings-dlq-original-key': 'order-1',
        'tidings-dlq-group': 'billing',
        'tidings-dlq-first-failure-at': '2026-11-24T10:00:00.000Z',
        'tidings-dlq-last-failure-at': expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    });
  });

  it('uses the first failure time of this attempt when the record carries none', () => {
    const settlement = deadLetterSettlement(
      testContext({ key: undefined }),
      new ValidationError('t', []),
      undefined,
      0,
    );
    expect(settlement.headers['tidings-dlq-first-failure-at']).toBe('1970-01-01T00:00:00.000Z');
    expect(settlement.headers).not.toHaveProperty('tidings-dlq-original-key');
  });

  it('keeps header values to one bounded line', () => {
    const settlement = deadLetterSettlement(
      testContext(),
      new Error(`line one\nline two ${'x'.repeat(5_000)}`),
    );
    expect(settlement.headers['tidings-dlq-error-message']).not.toContain('\n');
    expect(settlement.headers['tidings-dlq-error-message']!.length).toBeLessThanOrEqual(1_000);
  });
});
