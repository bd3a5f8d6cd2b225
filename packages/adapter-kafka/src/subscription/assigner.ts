import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

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

/**
 * A partition assigner that respects what each member subscribed to. kafkajs's own round-robin
 * assigner gives every member partitions of the leader's topics only, so a group whose members
 * consume different topics (two subscriptions of one group, or a group reading its dead-letter
 * topic) would leave some topics unread. This one reads each member's subscription from its join
 * metadata and assigns every topic's partitions among the members that asked for it.
 */
export const subscriptionAwareAssigner: PartitionAssigner = ({ cluster }) => ({
  name: SUBSCRIPTION_AWARE_ASSIGNER,
  version: 0,
  async assign({ members }) {
    const decoded: MemberTopics[] = members.map((member) => ({
      memberId: member.memberId,
      topics: AssignerProtocol.MemberMetadata.decode(member.memberMetadata)?.topics ?? [],
    }));
    const topics = [...new Set(decoded.flatMap((member) => member.topics))];
    // The leader's metadata only covers its own topics until asked for the others.
    await cluster.addMultipleTargetTopics(topics);
    const partitionsByTopic = new Map(
      topics.map(
        (topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId)] as const,
      ),
    );
    return [...planAssignment(decoded, partitionsByTopic)].map(([memberId, assignment]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 0,
        assignment,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: SUBSCRIPTION_AWARE_ASSIGNER,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
