import { describe, expect, it } from 'vitest';
import { PartitionState } from './partition';

describe('partition offset tracking', () => {
  it('commits the lowest unsettled offset, however records settle', () => {
    const state = new PartitionState('orders', 0);
    state.activate(10, new Map());
    expect(state.position()).toBe(10);
    for (const offset of [10, 11, 12, 14]) state.accept(offset);
    expect(state.next).toBe(15);
    expect(state.buffered).toBe(4);
    state.settle(12);
    state.settle(14);
    expect(state.position()).toBe(10);
    state.settle(10);
    expect(state.position()).toBe(11);
    state.settle(11);
    // Everything settled: the next offset to fetch, past the gap at 13.
    expect(state.position()).toBe(15);
    expect(state.buffered).toBe(0);
  });

  it('stays correct over many records settled out of order', () => {
    const state = new PartitionState('orders', 1);
    state.activate(0, new Map());
    for (let offset = 0; offset < 5_000; offset++) state.accept(offset);
    for (let offset = 4_999; offset >= 1; offset--) state.settle(offset);
    expect(state.position()).toBe(0);
    state.settle(0);
    expect(state.position()).toBe(5_000);
    for (let offset = 5_000; offset < 8_000; offset++) state.accept(offset);
    for (let offset = 5_000; offset < 7_000; offset++) state.settle(offset);
    expect(state.position()).toBe(7_000);
  });

  it('keeps the retry marks from the position on, and forgets a mark when its record settles', () => {
    const firstFailureAt = '2024-05-01T10:00:00.000Z';
    const state = new PartitionState('orders', 2);
    state.activate(
      5,
      new Map([
        [3, { attempt: 2, firstFailureAt }],
        [5, { attempt: 4, firstFailureAt }],
      ]),
    );
    expect([...state.retries.keys()]).toEqual([5]);
    state.accept(5);
    expect(state.metadata()).toContain('"r":[[5,4,');
    state.settle(5);
    expect(state.retries.size).toBe(0);
    expect(state.metadata()).toBe('');
  });

  it('tells when no handler of the partition runs', async () => {
    const state = new PartitionState('orders', 3);
    state.enter();
    state.enter();
    let idle = false;
    const waiting = state.idle().then(() => {
      idle = true;
    });
    state.leave();
    await Promise.resolve();
    expect(idle).toBe(false);
    state.leave();
    await waiting;
    expect(idle).toBe(true);
  });
});
