import type { ClusterMetadata } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { subscriptionAware } from './assigner';

/** Cluster metadata as the client hands the leader: only the partition counts matter here. */
function metadataOf(counts: Record<string, number>): ClusterMetadata {
  const topics = new Map(
    Object.entries(counts).map(([topic, partitionsCount]) => [
      topic,
      { id: topic, partitions: [], partitionsCount, lastUpdate: 0 },
    ]),
  );
  return { id: 'cluster', brokers: new Map(), controllerId: 1, topics, lastUpdate: 0 };
}

describe('the platformatic subscription-aware assigner', () => {
  it('gives each member only topics it subscribed to, in the shape the client encodes', () => {
    const members = new Map([
      ['a', { memberId: 'a', version: 0, topics: ['orders'] }],
      ['b', { memberId: 'b', version: 0, topics: ['orders', 'orders.dlq'] }],
      ['c', { memberId: 'c', version: 0 }],
    ]);
    const plan = subscriptionAware(
      'a',
      members,
      new Set(['orders']),
      metadataOf({ orders: 2, 'orders.dlq': 1 }),
    );
    const byMember = new Map(plan.map(({ memberId, assignments }) => [memberId, [...assignments.values()]]));
    expect([...byMember.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(byMember.get('c')).toEqual([]);
    expect(byMember.get('b')).toContainEqual({ topic: 'orders.dlq', partitions: [0] });
    expect(byMember.get('a')?.every((a) => a.topic === 'orders')).toBe(true);
    const orders = [...byMember.values()].flat().filter((a) => a.topic === 'orders');
    expect(orders.flatMap((a) => a.partitions).sort()).toEqual([0, 1]);
  });
});
