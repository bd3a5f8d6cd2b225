import { describe, expect, it } from 'vitest';
import { planAssignment } from './assigner';

describe('planAssignment', () => {
  it('gives each topic only to the members subscribed to it', () => {
    const plan = planAssignment(
      [
        { memberId: 'b', topics: ['orders'] },
        { memberId: 'a', topics: ['orders'] },
        { memberId: 'c', topics: ['orders.billing.dlq'] },
      ],
      new Map([
        ['orders', [0, 1, 2]],
        ['orders.billing.dlq', [0, 1, 2]],
      ]),
    );
    expect(plan.get('c')).toEqual({ 'orders.billing.dlq': [0, 1, 2] });
    const ordersA = plan.get('a')!.orders ?? [];
    const ordersB = plan.get('b')!.orders ?? [];
    expect([...ordersA, ...ordersB].sort()).toEqual([0, 1, 2]);
    expect(ordersA.length).toBeGreaterThan(0);
    expect(ordersB.length).toBeGreaterThan(0);
  });

  it('spreads single-partition topics over the members and keeps empty members', () => {
    const plan = planAssignment(
      [
        { memberId: 'm1', topics: ['t1', 't2', 't3', 't4'] },
        { memberId: 'm2', topics: ['t1', 't2', 't3', 't4'] },
        { memberId: 'idle', topics: ['other'] },
      ],
      new Map([
        ['t1', [0]],
        ['t2', [0]],
        ['t3', [0]],
        ['t4', [0]],
      ]),
    );
    expect(Object.keys(plan.get('m1')!)).toHaveLength(2);
    expect(Object.keys(plan.get('m2')!)).toHaveLength(2);
    expect(plan.get('idle')).toEqual({});
  });
});
