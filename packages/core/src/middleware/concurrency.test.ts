import { describe, expect, it } from 'vitest';
import { testContext } from '../../test/support/contexts';
import { ConfigError } from '../errors';
import { concurrencyLimit } from './concurrency';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('concurrency limit policy', () => {
  it('runs at most max handlers at once, across every subscription sharing it', async () => {
    const limit = concurrencyLimit({ max: 2 });
    let running = 0;
    let peak = 0;
    const handler = async () => {
      running++;
      peak = Math.max(peak, running);
      await pause(5);
      running--;
    };
    await Promise.all(Array.from({ length: 12 }, () => limit(testContext(), handler)));
    expect(peak).toBe(2);
  });

  it('limits per key when given a key function', async () => {
    const limit = concurrencyLimit({ max: 1, key: (ctx) => ctx.record.key });
    const running = new Map<string, number>();
    let overlap = false;
    let peakOverall = 0;
    let overall = 0;
    const handler = (key: string) => async () => {
      const now = (running.get(key) ?? 0) + 1;
      running.set(key, now);
      overall++;
      peakOverall = Math.max(peakOverall, overall);
      if (now > 1) overlap = true;
      await pause(3);
      running.set(key, (running.get(key) ?? 1) - 1);
      overall--;
    };
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const key = `k${i % 4}`;
        return limit(testContext({ key }), handler(key));
      }),
    );
    expect(overlap).toBe(false);
    expect(peakOverall).toBe(4);
  });

  it('releases its slot when the handler fails', async () => {
    const limit = concurrencyLimit({ max: 1 });
    await expect(
      limit(testContext(), async () => {
        throw new Error('x');
      }),
    ).rejects.toThrow('x');
    let ran = false;
    await limit(testContext(), async () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });

  it('refuses a max below one', () => {
    expect(() => concurrencyLimit({ max: 0 })).toThrow(ConfigError);
  });
});
