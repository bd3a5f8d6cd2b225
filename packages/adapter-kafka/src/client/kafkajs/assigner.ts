import type { PartitionAssigner } from 'kafkajs';
import { type MemberTopics, planAssignment, SUBSCRIPTION_AWARE_ASSIGNER } from '../../subscription/assigner';
import { kafkajs } from './module';

/**
 * The subscription-aware assignment (`subscription/assigner.ts`) as a kafkajs partition assigner.
 *
 * @module
 */

/**
 * @internal A partition assigner that respects what each member subscribed to. kafkajs's own round-robin
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
      topics: kafkajs().AssignerProtocol.MemberMetadata.decode(member.memberMetadata)?.topics ?? [],
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
      memberAssignment: kafkajs().AssignerProtocol.MemberAssignment.encode({
        version: 0,
        assignment,
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: SUBSCRIPTION_AWARE_ASSIGNER,
      metadata: kafkajs().AssignerProtocol.MemberMetadata.encode({
        version: 0,
        topics,
        userData: Buffer.alloc(0),
      }),
    };
  },
});
