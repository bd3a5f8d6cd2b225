import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors';
import { backoffDelay, resolveRetryOptions } from './retry';

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
