import type { ConsumerLag, StartPosition, SubscribeSpec } from '@tidings/core/adapter';
import type { KafkaAdminClient } from '../client/admin';
import type { TopicRoutes } from '../retry-topics';
import { partitionKey } from './partition';

/**
 * @internal Records of each subscribed topic the group has not settled: per partition, the log end
 * minus the group's committed offset (the lowest unsettled record), and what waits in the topic's
 * retry topics. Two admin requests.
 */
export async function subscriptionLag(
  admin: KafkaAdminClient,
  spec: SubscribeSpec,
  routes: TopicRoutes,
): Promise<ConsumerLag[]> {
  const counts = await unsettledCounts(admin, spec.group, routes.kafkaTopics, spec.startFrom);
  const totals = new Map<string, number>(spec.topics.map((topic) => [topic, 0]));
  for (const [topic, messages] of counts) {
    const source = routes.route(topic)?.source ?? topic;
    totals.set(source, (totals.get(source) ?? 0) + messages);
  }
  return [...totals].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * @internal Records each of `topics` holds that `group` has not settled, by topic: per partition,
 * the log end minus the group's committed offset (which never passes an unsettled record). A
 * partition the group never committed counts from where the group would start reading it.
 */
export async function unsettledCounts(
  admin: KafkaAdminClient,
  group: string,
  topics: readonly string[],
  from: StartPosition,
): Promise<Map<string, number>> {
  const [committed, ends] = await Promise.all([
    admin.groupOffsets(group, topics),
    Promise.all(topics.map(async (topic) => ({ topic, partitions: await admin.topicEnds(topic) }))),
  ]);
  const committedAt = new Map<string, number>();
  for (const { topic, partitions } of committed) {
    for (const { partition, offset } of partitions) committedAt.set(partitionKey(topic, partition), offset);
  }
  const out = new Map<string, number>();
  for (const { topic, partitions } of ends) {
    let owed = 0;
    for (const { partition, low, high } of partitions) {
      const at = committedAt.get(partitionKey(topic, partition)) ?? -1;
      const start = at >= 0 ? at : from === 'earliest' ? low : high;
      owed += Math.max(0, high - start);
    }
    out.set(topic, owed);
  }
  return out;
}
