import { ConfigError, ConnectionError, type GroupDescription, type Redactor } from '@tidings/core/adapter';
import type { GroupInfo, KafkaAdminClient } from '../client/admin';
import { describeKafkaError } from '../errors';
import type { ResolvedKafkaOptions } from '../options';
import { readEnds } from './reader';

/**
 * Group administration of the Kafka adapter: the consumer groups of a topic with their lag, and
 * removing one.
 *
 * @module
 */

/** @internal What group administration needs from the adapter. */
export interface GroupAdminDeps {
  readonly admin: () => Promise<KafkaAdminClient>;
  readonly retryTopics: ResolvedKafkaOptions['retryTopics'];
  readonly redactor: Redactor;
}

/** @internal The topics `group`'s members are assigned partitions of. */
export function assignedTopics(group: GroupInfo): Set<string> {
  return new Set(group.members.flatMap((member) => member.assignedTopics));
}

/** How many groups' offsets are asked for at once. */
const PARALLEL = 8;

/**
 * @internal The groups that read each of `topics` (they committed offsets on it, or a member holds
 * a partition of it), with their lag (log end minus committed offset, summed over the partitions,
 * plus what waits in the group's retry topics of the topic), members and state. Three requests,
 * then one offset request per consumer group of the cluster.
 */
export async function describeGroups(
  deps: GroupAdminDeps,
  topics: readonly string[],
): Promise<GroupDescription[]> {
  const admin = await deps.admin();
  try {
    const ends = new Map<string, Map<number, { low: number; high: number }>>();
    for (const topic of new Set(topics)) {
      const topicEnds = await readEnds(admin, topic);
      if (topicEnds.size > 0) ends.set(topic, topicEnds);
    }
    if (ends.size === 0) return [];
    const groups = await admin.listGroups();
    const consumerGroups = groups.filter((g) => g.protocolType === 'consumer' || g.protocolType === '');
    const described = new Map<string, GroupInfo>();
    if (consumerGroups.length > 0) {
      for (const g of await admin.describeGroups(consumerGroups.map((c) => c.groupId))) {
        described.set(g.groupId, g);
      }
    }
    const found: { topic: string; group: string; lag: number }[] = [];
    for (let i = 0; i < consumerGroups.length; i += PARALLEL) {
      await Promise.all(
        consumerGroups.slice(i, i + PARALLEL).map(async ({ groupId }) => {
          const offsets = await admin.groupOffsets(groupId, [...ends.keys()]);
          const group = described.get(groupId);
          const assigned = group === undefined ? new Set<string>() : assignedTopics(group);
          for (const { topic, partitions } of offsets) {
            // The group reads the topic: it committed on it, or a member holds a partition of it.
            if (!partitions.some((p) => p.offset >= 0) && !assigned.has(topic)) continue;
            const topicEnds = ends.get(topic)!;
            let lag = 0;
            for (const { partition, offset } of partitions) {
              const range = topicEnds.get(partition);
              if (range === undefined) continue;
              lag += Math.max(0, range.high - (offset >= 0 ? offset : range.low));
            }
            lag += await retryLag(admin, deps.retryTopics, topic, groupId);
            found.push({ topic, group: groupId, lag });
          }
        }),
      );
    }
    const members = new Map<string, number>();
    for (const g of described.values()) members.set(g.groupId, g.members.length);
    const order = [...ends.keys()];
    return found
      .map((f): GroupDescription => {
        const count = members.get(f.group);
        return {
          topic: f.topic,
          group: f.group,
          lag: f.lag,
          pending: undefined,
          members: count,
          state: count === undefined ? 'unknown' : count > 0 ? 'active' : 'idle',
        };
      })
      .sort(
        (a, b) =>
          order.indexOf(a.topic) - order.indexOf(b.topic) ||
          (a.group < b.group ? -1 : a.group > b.group ? 1 : 0),
      );
  } catch (error) {
    throw new ConnectionError(
      deps.redactor.text(
        `kafka: cannot describe the groups of ${topics.join(', ')}: ${describeKafkaError(error)}`,
      ),
      {
        cause: deps.redactor.error(error),
      },
    );
  }
}

/** What waits in `group`'s retry topics of `topic` (0 when it has none). */
async function retryLag(
  admin: KafkaAdminClient,
  retryTopics: ResolvedKafkaOptions['retryTopics'],
  topic: string,
  group: string,
): Promise<number> {
  if (retryTopics === false) return 0;
  let owed = 0;
  for (const tier of retryTopics.tiersMs) {
    const name = retryTopics.name(topic, group, tier);
    const ends = await readEnds(admin, name);
    if (ends.size === 0) continue;
    const [committed] = await admin.groupOffsets(group, [name]);
    for (const { partition, offset } of committed?.partitions ?? []) {
      const range = ends.get(partition);
      if (range === undefined) continue;
      owed += Math.max(0, range.high - (offset >= 0 ? offset : range.low));
    }
  }
  return owed;
}

/**
 * @internal Deletes `group` (its offsets) and its retry topics of `topic`. Kafka deletes whole
 * groups only: a group that also reads other topics is refused, with a `ConfigError` naming
 * `group`, as is a group with members connected. Resolves false when the group has no offsets
 * on `topic`.
 */
export async function deleteGroup(deps: GroupAdminDeps, topic: string, group: string): Promise<boolean> {
  const admin = await deps.admin();
  const own = new Set([topic]);
  if (deps.retryTopics !== false) {
    for (const tier of deps.retryTopics.tiersMs) own.add(deps.retryTopics.name(topic, group, tier));
  }
  let readTopics: Set<string>;
  let members: number;
  try {
    // Without topics, kafkajs asks for every topic the group committed on.
    const offsets = await admin.groupOffsets(group);
    const groups = await admin.describeGroups([group]);
    members = groups[0]?.members.length ?? 0;
    readTopics = groups[0] === undefined ? new Set() : assignedTopics(groups[0]);
    for (const t of offsets) if (t.partitions.some((p) => p.offset >= 0)) readTopics.add(t.topic);
  } catch (error) {
    throw new ConnectionError(
      deps.redactor.text(`kafka: cannot read group "${group}": ${describeKafkaError(error)}`),
      { cause: deps.redactor.error(error) },
    );
  }
  if (!readTopics.has(topic)) return false;
  if (members > 0) {
    throw new ConfigError(
      'group',
      `consumer group "${group}" still has ${members} member${members === 1 ? '' : 's'} connected; close them first`,
    );
  }
  const others = [...readTopics].filter((t) => !own.has(t));
  if (others.length > 0) {
    throw new ConfigError(
      'group',
      `consumer group "${group}" also reads ${others.join(', ')}: Kafka deletes whole groups, not one topic's offsets`,
    );
  }
  let refusal: string | undefined;
  try {
    refusal = (await admin.deleteGroups([group])).get(group);
  } catch (error) {
    throw new ConnectionError(
      deps.redactor.text(`kafka: cannot delete group "${group}": ${describeKafkaError(error)}`),
      {
        cause: deps.redactor.error(error),
      },
    );
  }
  if (refusal === 'NON_EMPTY_GROUP') {
    throw new ConfigError('group', `consumer group "${group}" still has members connected; close them first`);
  }
  if (refusal === 'GROUP_ID_NOT_FOUND') return false;
  if (refusal !== undefined) {
    throw new ConnectionError(deps.redactor.text(`kafka: cannot delete group "${group}": ${refusal}`));
  }
  // The group's retry topics hold retries nobody else reads; a group of the same name made later
  // would otherwise find them.
  const retries = [...own].filter((t) => t !== topic);
  const existing = (await admin.listTopics()).filter((t) => retries.includes(t));
  if (existing.length > 0) await admin.deleteTopics(existing).catch(() => undefined);
  return true;
}
