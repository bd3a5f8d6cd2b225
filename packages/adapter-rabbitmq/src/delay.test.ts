import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DELAY_HEADER_PREFIX, levelDelayMs, MAX_TTL_MS, maxLevel, planDelay } from './delay';

/** What the levels a plan waits in add up to. */
function waited(plan: NonNullable<ReturnType<typeof planDelay>>, resolutionMs: number): number {
  let total = 0;
  for (let level = 0; level <= plan.top; level++) {
    if (plan.headers[`${DELAY_HEADER_PREFIX}${level}`] === '1') total += levelDelayMs(level, resolutionMs);
  }
  return total;
}

describe('planDelay', () => {
  it('waits nothing for no delay', () => {
    expect(planDelay(0, 100)).toBeUndefined();
    expect(planDelay(-5, 100)).toBeUndefined();
    expect(planDelay(Number.NaN, 100)).toBeUndefined();
  });

  it('splits a delay into the levels of its binary form', () => {
    expect(planDelay(300, 100)).toEqual({
      top: 1,
      totalMs: 300,
      headers: { 'tidings-delay-0': '1', 'tidings-delay-1': '1' },
    });
    expect(planDelay(2_000, 100)).toEqual({
      top: 4,
      totalMs: 2_000,
      headers: {
        'tidings-delay-0': '0',
        'tidings-delay-1': '0',
        'tidings-delay-2': '1',
        'tidings-delay-3': '0',
        'tidings-delay-4': '1',
      },
    });
  });

  it('rounds up to the resolution, so a retry is never early and at most one resolution late', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 48 * 3_600_000 }),
        (resolution, delay) => {
          const plan = planDelay(delay, resolution)!;
          expect(plan.totalMs).toBeGreaterThanOrEqual(delay);
          expect(plan.totalMs - delay).toBeLessThan(resolution);
          expect(waited(plan, resolution)).toBe(plan.totalMs);
          // The record enters at the top level, so that level always holds it.
          expect(plan.headers[`${DELAY_HEADER_PREFIX}${plan.top}`]).toBe('1');
          expect(plan.top).toBeLessThanOrEqual(maxLevel(resolution));
        },
      ),
    );
  });

  it('keeps every level within the largest TTL RabbitMQ accepts, capping longer delays', () => {
    for (const resolution of [1, 100, 60_000]) {
      expect(levelDelayMs(maxLevel(resolution), resolution)).toBeLessThanOrEqual(MAX_TTL_MS);
      expect(levelDelayMs(maxLevel(resolution) + 1, resolution)).toBeGreaterThan(MAX_TTL_MS);
      const capped = planDelay(Number.MAX_SAFE_INTEGER, resolution)!;
      expect(capped.top).toBe(maxLevel(resolution));
      expect(waited(capped, resolution)).toBe(capped.totalMs);
    }
  });
});
