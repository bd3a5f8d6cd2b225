import { describe, expect, it } from 'vitest';
import { testContext } from '../../test/support/contexts';
import { DecodeError, NonRetryableError, ValidationError } from '../errors';
import { defaultDeadLetterTopic } from './dead-letter';
import { beyondLastAttempt, decideFailure, type FailurePolicy } from './failure';
import { type RetryOptions, resolveRetryOptions } from './retry';

const policyOf = (retry: RetryOptions | false, deadLetterTopic = defaultDeadLetterTopic): FailurePolicy => ({
  retry: resolveRetryOptions(retry),
  deadLetterTopic,
});

describe('the failure decision', () => {
  it('retries while attempts remain, counting from the record', () => {
    const policy = policyOf({ maxAttempts: 3, initialDelayMs: 100, jitter: 0 });
    const first = decideFailure(testContext({ attempt: 1 }), new Error('down'), policy);
    expect(first.settlement).toEqual({
      type: 'retry',
      delayMs: 100,
      headers: { 'tidings-attempt': '2', 'tidings-first-failure-at': expect.any(String) },
    });
    expect(first.error.message).toBe('down');
    const second = decideFailure(
      testContext({ attempt: 2, headers: { 'tidings-first-failure-at': '2026-01-01T00:00:00.000Z' } }),
      new Error('down'),
      policy,
    );
    expect(second.settlement).toMatchObject({
      delayMs: 200,
      headers: { 'tidings-attempt': '3', 'tidings-first-failure-at': '2026-01-01T00:00:00.000Z' },
    });
  });

  it('dead-letters on the last attempt', () => {
    const verdict = decideFailure(
      testContext({ attempt: 3 }),
      new Error('still down'),
      policyOf({ maxAttempts: 3 }),
    );
    expect(verdict.settlement).toMatchObject({ type: 'deadLetter', reason: 'Error: still down' });
  });

  it('dead-letters at once errors that are not worth retrying', () => {
    for (const error of [
      new NonRetryableError('no such customer'),
      new ValidationError('t', []),
      new DecodeError('bad bytes'),
    ]) {
      const verdict = decideFailure(testContext({ attempt: 1 }), error, policyOf({ maxAttempts: 10 }));
      expect(verdict.settlement.type).toBe('deadLetter');
      expect(verdict.error).toBe(error);
    }
  });

  it('asks a custom predicate, with the context', () => {
    const policy = policyOf({
      retryable: (error, ctx) => error.message === 'transient' && ctx.group === 'billing',
    });
    expect(decideFailure(testContext(), new Error('transient'), policy).settlement.type).toBe('retry');
    expect(decideFailure(testContext(), new Error('permanent'), policy).settlement.type).toBe('deadLetter');
  });

  it('dead-letters with the predicate’s own error when the predicate throws', () => {
    const policy = policyOf({
      retryable: () => {
        throw new Error('predicate bug');
      },
    });
    const verdict = decideFailure(testContext(), new Error('handler failed'), policy);
    expect(verdict.settlement).toMatchObject({ type: 'deadLetter', reason: 'Error: predicate bug' });
    expect(verdict.error.message).toBe('predicate bug');
  });

  it('wraps thrown non-errors so the reason is readable', () => {
    const verdict = decideFailure(testContext(), 'a string', policyOf(false));
    expect(verdict.error.message).toMatch(/non-error value thrown: a string/);
    expect(verdict.settlement).toMatchObject({
      type: 'deadLetter',
      reason: 'HandlerError: non-error value thrown: a string',
    });
  });

  it('names the dead-letter topic with the given function', () => {
    const verdict = decideFailure(
      testContext(),
      new Error('x'),
      policyOf(false, (topic, group) => `dlq.${group}.${topic}`),
    );
    expect(verdict.settlement).toMatchObject({ topic: 'dlq.billing.order.placed' });
  });

  it('dead-letters a record its consumers kept dying on, and nothing within the attempts', () => {
    const policy = policyOf({ maxAttempts: 3 });
    expect(beyondLastAttempt(testContext({ attempt: 3 }), policy)).toBeUndefined();
    const verdict = beyondLastAttempt(testContext({ attempt: 4 }), policy)!;
    expect(verdict.error).toBeInstanceOf(NonRetryableError);
    expect(verdict.error.message).toMatch(/delivered 4 times without being settled/);
    expect(verdict.settlement.type).toBe('deadLetter');
  });
});
