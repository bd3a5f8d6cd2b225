/** What one group member subscribed to, as its join request said. */
export interface MemberTopics {
  readonly memberId: string;
  readonly topics: readonly string[];
}

/**
 * Plans a group's assignment: each topic's partitions go round robin to the members subscribed
 * to that topic, and only to them. Every member gets an entry, empty if nothing fell to it.
 */
export function planAssignment(
  members: readonly MemberTopics[],
  partitionsByTopic: ReadonlyMap<string, readonly number[]>,
): Map<string, Record<string, number[]>> {
  const plan = new Map<string, Record<string, number[]>>();
  const sorted = [...members].sort((a, b) =>
    a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0,
  );
  for (const member of sorted) plan.set(member.memberId, {});
  // A running turn across topics spreads single-partition topics over the members too.
  let turn = 0;
  for (const topic of [...partitionsByTopic.keys()].sort()) {
    const eligible = sorted.filter((member) => member.topics.includes(topic));
    if (eligible.length === 0) continue;
    for (const partition of partitionsByTopic.get(topic) ?? []) {
      const member = eligible[turn % eligible.length]!;
      turn++;
      const assignment = plan.get(member.memberId)!;
      const partitions = assignment[topic] ?? [];
      partitions.push(partition);
      assignment[topic] = partitions;
    }
  }
  return plan;
}

/** The protocol name every member of a Tidings consumer group offers first. */
export const SUBSCRIPTION_AWARE_ASSIGNER = 'TidingsSubscriptionAware';
