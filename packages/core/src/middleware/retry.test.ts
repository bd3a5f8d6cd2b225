import { describe, expect, it } from 'vitest';
import { ConfigError, DecodeError, NonRetryableError, ValidationError } from '../errors';
import { backoffDelay, resolveRetryOptions, retry } from './retry';
import { testContext } from './test-context';

const fail = (error: unknown) => async () => {
  throw error;
};

describe('retry policy', () => {
  it('settles a failure as a retry while attempts remain, counting from the record', async () => {
    const policy = retry({ maxAttempts: 3, initialDelayMs: 100, jitter: 0 });
    const first = testContext({ attempt: 1 });
    await policy(first, fail(new Error('down')));
    expect(first.settlement).toEqual({
      type: 'retry',
      delayMs: 100,
      headers: { 'tidings-attempt': '2', 'tidings-first-failure-at': expect.any(String) },
    });
    expect(first.error?.message).toBe('down');

    const second = testContext({
      attempt: 2,
      headers: { 'tidings-first-failure-at': '2026-01-01T00:00:00.000Z' },
    });
    await policy(second, fail(new Error('down')));
    expect(second.settlement).toMatchObject({
      delayMs: 200,
      headers: { 'tidings-attempt': '3', 'tidings-first-failure-at': '2026-01-01T00:00:00.000Z' },
    });
  });

  it('rethrows on the last attempt, for the dead-letter policy', async () => {
    const policy = retry({ maxAttempts: 3 });
    const ctx = testContext({ attempt: 3 });
    await expect(policy(ctx, fail(new Error('still down')))).rejects.toThrow('still down');
    expect(ctx.settlement).toBeUndefined();
  });

  it('rethrows at once errors that are not worth retrying', async () => {
    const policy = retry({ maxAttempts: 10 });
    for (const error of [
      new NonRetryableError('no such customer'),
      new ValidationError('t', []),
      new DecodeError('bad bytes'),
    ]) {
      const ctx = testContext({ attempt: 1 });
      await expect(policy(ctx, fail(error))).rejects.toBe(error);
    }
  });

  it('asks a custom predicate, with the context', async () => {
    const policy = retry({
      retryable: (error, ctx) => error.message === 'transient' && ctx.group === 'billing',
    });
    const transient = testContext();
    await policy(transient, fail(new Error('transient')));
    expect(transient.settlement?.type).toBe('retry');
    await expect(policy(testContext(), fail(new Error('permanent')))).rejects.toThrow('permanent');
  });

  it('wraps thrown non-errors so the reason is readable', async () => {
    const policy = retry({ maxAttempts: 1 });
    await expect(policy(testContext(), fail('a string'))).rejects.toThrow(/non-error value thrown: a string/);
  });

  it('dead-letters, without running the handler, a record its consumers kept dying on', async () => {
    const policy = retry({ maxAttempts: 3 });
    let ran = false;
    const error = await policy(testContext({ attempt: 4 }), async () => {
      ran = true;
    }).catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as Error).message).toMatch(/delivered 4 times without being settled/);
  });

  it('leaves a successful delivery alone', async () => {
    const ctx = testContext();
    await retry()(ctx, async () => undefined);
    expect(ctx.settlement).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  const options = resolveRetryOptions({
    initialDelayMs: 1_000,
    multiplier: 2,
    maxDelayMs: 10_000,
    jitter: 0,
  });

  it('grows exponentially from the initial delay and stops at the maximum', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, options))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000, 10_000,
    ]);
  });

  it('keeps jitter within [d × (1 − jitter), d]', () => {
    const jittered = resolveRetryOptions({ initialDelayMs: 1_000, jitter: 0.3, maxDelayMs: 60_000 });
    expect(backoffDelay(1, jittered, () => 0)).toBe(1_000);
    expect(backoffDelay(1, jittered, () => 0.999_999)).toBe(700);
    for (let i = 0; i < 1_000; i++) {
      const delay = backoffDelay(3, jittered);
      expect(delay).toBeGreaterThanOrEqual(2_800);
      expect(delay).toBeLessThanOrEqual(4_000);
    }
  });

  it('stays finite for very high attempts', () => {
    expect(backoffDelay(10_000, options)).toBe(10_000);
  });
});

describe('resolveRetryOptions', () => {
  it.each([
    [{ maxAttempts: 0 }, 'retry.maxAttempts'],
    [{ maxAttempts: 2.5 }, 'retry.maxAttempts'],
    [{ initialDelayMs: -1 }, 'retry.initialDelayMs'],
    [{ initialDelayMs: 5_000, maxDelayMs: 1_000 }, 'retry.maxDelayMs'],
    [{ multiplier: 0.5 }, 'retry.multiplier'],
    [{ jitter: 1.5 }, 'retry.jitter'],
    [{ retryable: 'yes' }, 'retry.retryable'],
  ])('names the bad field of %o', (options, field) => {
    expect(() => resolveRetryOptions(options as never)).toThrow(ConfigError);
    try {
      resolveRetryOptions(options as never);
    } catch (error) {
      expect((error as ConfigError).field).toBe(field);
    }
  });

  it('treats false as a single attempt and keeps defaults for undefined fields', () => {
    expect(resolveRetryOptions(false).maxAttempts).toBe(1);
    expect(resolveRetryOptions({ maxAttempts: undefined } as never).maxAttempts).toBe(5);
  });
});
