import { ConfigError, ConnectionError, type Redactor, type ReplayFrom } from '@tidings/core/adapter';
import type { KafkaAdminClient } from '../client/admin';
import { describeKafkaError } from '../errors';
import type { KafkaSubscription } from '../subscription/subscription';
import { assignedTopics } from './groups';
import { type LogReader, readEnds } from './reader';

/**
 * History replay of the Kafka adapter: the group's committed offsets of the topic move back (or
 * forward), and the group reads on from there. Other groups keep their own offsets.
 *
 * @module
 */

/** `topic/partition@offset`, the notation of `IncomingRecord.position`. */
const POSITION = /^(.+)\/(\d+)@(\d+)$/;

/** @internal What replay needs from the adapter. */
export interface ReplayDeps {
  readonly admin: () => Promise<KafkaAdminClient>;
  /** This adapter's running subscriptions. */
  readonly subscriptions: () => Iterable<KafkaSubscription>;
  readonly reader: LogReader;
  readonly redactor: Redactor;
}

/**
 * @internal Moves `group`'s offsets of `topic` to `from`. Kafka lets a group's offsets be set from
 * outside only while the group has no member (then they are committed as no member); while every member is a subscription of this
 * adapter, each member moves the partitions it holds itself. A member in another process cannot
 * be moved from here: refused, with a `ConfigError` naming `group`.
 */
export async function replayHistory(
  deps: ReplayDeps,
  topic: string,
  group: string,
  from: ReplayFrom,
): Promise<void> {
  const admin = await deps.admin();
  const fail = (what: string, error: unknown): ConnectionError =>
    new ConnectionError(deps.redactor.text(`kafka: cannot ${what}: ${describeKafkaError(error)}`), {
      cause: deps.redactor.error(error),
    });
  const ends = await readEnds(admin, topic).catch((error: unknown) => {
    throw fail(`read the offsets of "${topic}"`, error);
  });
  const ofGroup = [...deps.subscriptions()].filter((s) => s.group === group);
  const local = ofGroup.filter((s) => s.topics.includes(topic));
  let committed: readonly { partition: number; offset: number }[] = [];
  let members: readonly { memberId: string }[] = [];
  let assigned = new Set<string>();
  try {
    if (ends.size > 0) {
      const [fetched] = await admin.groupOffsets(group, [topic]);
      committed = fetched?.partitions ?? [];
    }
    const groups = await admin.describeGroups([group]);
    members = groups[0]?.members ?? [];
    if (groups[0] !== undefined) assigned = assignedTopics(groups[0]);
  } catch (error) {
    throw fail(`read group "${group}"`, error);
  }
  const reads = local.length > 0 || assigned.has(topic) || committed.some((p) => p.offset >= 0);
  if (ends.size === 0 || !reads) {
    throw new ConfigError('group', `consumer group "${group}" does not read topic "${topic}"`);
  }
  const offsets = await targetOffsets(admin, topic, from, ends).catch((error: unknown) => {
    if (error instanceof ConfigError) throw error;
    throw fail(`find the offsets of "${topic}" at ${describeFrom(from)}`, error);
  });
  if (members.length === 0) {
    try {
      await deps.reader.commitAsNoMember(group, topic, offsets);
    } catch (error) {
      const type = (error as { type?: string }).type;
      if (type === 'UNKNOWN_MEMBER_ID' || type === 'ILLEGAL_GENERATION') {
        throw new ConfigError(
          'group',
          `consumer group "${group}" got a member while its offsets were being moved; stop its members, or replay from the process that holds the group`,
          { cause: deps.redactor.error(error) },
        );
      }
      throw fail(`move group "${group}" on "${topic}"`, error);
    }
    return;
  }
  const localIds = new Set(ofGroup.map((s) => s.memberId));
  const foreign = members.filter((m) => !localIds.has(m.memberId)).length;
  if (foreign > 0) {
    throw new ConfigError(
      'group',
      `consumer group "${group}" has ${foreign} member${foreign === 1 ? '' : 's'} in other processes: Kafka moves a group's offsets only while it has no member, or through its members; stop them, or replay from the process that holds the group`,
    );
  }
  const moved = new Set<number>();
  for (const subscription of local) {
    for (const partition of await subscription.rewind(topic, offsets)) moved.add(partition);
  }
  const missed = [...offsets.keys()].filter((p) => !moved.has(p));
  if (missed.length > 0) {
    throw new ConnectionError(
      `kafka: group "${group}" held no member for ${topic} partition${missed.length === 1 ? '' : 's'} ${missed.join(', ')} (a rebalance under way?); run the replay again`,
    );
  }
}

/** The offset to start from, by partition. */
async function targetOffsets(
  admin: KafkaAdminClient,
  topic: string,
  from: ReplayFrom,
  ends: ReadonlyMap<number, { low: number; high: number }>,
): Promise<Map<number, number>> {
  if ('time' in from) {
    const at = from.time instanceof Date ? from.time.getTime() : Number.NaN;
    if (!Number.isFinite(at)) throw new ConfigError('from.time', 'must be a valid Date');
    const found = await admin.offsetsAt(topic, at);
    return new Map(found.map(({ partition, offset }) => [partition, offset]));
  }
  const match = POSITION.exec(from.position);
  if (match === null || match[1] !== topic) {
    throw new ConfigError(
      'from.position',
      `"${from.position}" is not a position of "${topic}" (${topic}/<partition>@<offset>)`,
    );
  }
  const partition = Number(match[2]);
  const offset = Number(match[3]);
  const range = ends.get(partition);
  if (range === undefined) {
    throw new ConfigError('from.position', `"${topic}" has no partition ${partition}`);
  }
  if (offset < range.low || offset > range.high) {
    throw new ConfigError(
      'from.position',
      `offset ${offset} of ${topic}/${partition} is not retained (the log holds ${range.low} to ${range.high - 1})`,
    );
  }
  // One partition: Kafka orders records within a partition only, so a position names one.
  return new Map([[partition, offset]]);
}

function describeFrom(from: ReplayFrom): string {
  return 'time' in from ? from.time.toISOString() : from.position;
}
