import type { GroupPartitionsAssigner } from '@platformatic/kafka';
import { planAssignment } from '../../subscription/assigner';

/**
 * The subscription-aware assignment (`subscription/assigner.ts`) as a `@platformatic/kafka`
 * partition assigner. The client decodes each member's subscription (the standard consumer
 * protocol metadata, as kafkajs encodes it too) and hands the leader the metadata of every topic
 * any member asked for, so the plan needs nothing else.
 *
 * @module
 */

/**
 * @internal Assigns every topic's partitions among the members that subscribed to it. (With a single
 * member the client assigns it all its topics without calling an assigner: the same outcome.)
 * @example
 * await consumer.joinGroup({ protocols, partitionAssigner: subscriptionAware });
 */
export const subscriptionAware: GroupPartitionsAssigner = (_current, members, _topics, metadata) => {
  const partitionsByTopic = new Map(
    [...metadata.topics].map(([topic, info]) => [topic, [...Array(info.partitionsCount).keys()]] as const),
  );
  const plan = planAssignment(
    [...members.values()].map((member) => ({ memberId: member.memberId, topics: member.topics ?? [] })),
    partitionsByTopic,
  );
  return [...plan].map(([memberId, assignment]) => ({
    memberId,
    assignments: new Map(
      Object.entries(assignment).map(([topic, partitions]) => [topic, { topic, partitions }] as const),
    ),
  }));
};
