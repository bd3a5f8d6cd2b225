import { ConfigError, type GroupDescription, type Redactor } from '@tidings/core/adapter';
import type { ConsumerInfo, JetStreamManager } from 'nats';
import { connectionFailure, isNotFound } from '../errors';
import { consumerName, partitionSubject, topicFilter } from '../subjects';

/** What the group administration needs of the connected adapter. */
export interface GroupsContext {
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly prefix: string;
  readonly partitions: number;
  readonly redactor: Redactor;
}

/** The group a consumer's description names (`Tidings group "<group>" on topic "<topic>"…`). */
const DESCRIPTION = /^Tidings group "(.*)" on topic "/s;

/**
 * The consumer groups of topics on the adapter's stream, and their removal. A group is the durable
 * pull consumer(s) Tidings made for it: one whose filter is the topic's partitions, or one per
 * partition for a group ordered by key, summed. A consumer counts as a group's only when its name is
 * the one `consumerName` gives for the group its description names, so that consumers made by
 * hand on the same subjects are not listed.
 */
export class JetStreamGroups {
  constructor(private readonly ctx: GroupsContext) {}

  async describe(topics: readonly string[]): Promise<GroupDescription[]> {
    const wanted = new Map<string, { topic: string; partition: number | undefined }>();
    for (const topic of topics) {
      wanted.set(topicFilter(this.ctx.prefix, topic), { topic, partition: undefined });
      for (let p = 0; p < this.ctx.partitions; p++) {
        wanted.set(partitionSubject(this.ctx.prefix, topic, p), { topic, partition: p });
      }
    }
    const groups = new Map<string, { topic: string; group: string; infos: ConsumerInfo[] }>();
    for (const info of await this.consumers()) {
      const at = wanted.get(info.config.filter_subject ?? '');
      const group = DESCRIPTION.exec(info.config.description ?? '')?.[1];
      if (at === undefined || group === undefined) continue;
      if (info.name !== consumerName(group, at.topic, at.partition)) continue;
      const id = `${at.topic}\u0000${group}`;
      const entry = groups.get(id) ?? { topic: at.topic, group, infos: [] };
      entry.infos.push(info);
      groups.set(id, entry);
    }
    const order = new Map(topics.map((topic, i) => [topic, i]));
    return [...groups.values()]
      .sort((a, b) => order.get(a.topic)! - order.get(b.topic)! || compare(a.group, b.group))
      .map(({ topic, group, infos }) => describeGroup(topic, group, infos));
  }

  /**
   * Deletes the group's consumers on `topic`. JetStream would delete a consumer under its live
   * members (which would then fail to pull): while any pull request waits on one, this refuses.
   */
  async delete(topic: string, group: string, infos: readonly ConsumerInfo[]): Promise<boolean> {
    if (infos.length === 0) return false;
    const waiting = infos.reduce((sum, info) => sum + info.num_waiting, 0);
    if (waiting > 0) {
      throw new ConfigError(
        'group',
        `consumer group "${group}" still has members pulling from topic "${topic}" (${waiting} pull requests waiting); close them first`,
      );
    }
    let deleted = false;
    for (const info of infos) {
      try {
        if (await this.ctx.jsm.consumers.delete(this.ctx.stream, info.name)) deleted = true;
      } catch (error) {
        if (isNotFound(error)) continue;
        throw connectionFailure(error, `cannot delete consumer "${info.name}"`, this.ctx.redactor);
      }
    }
    return deleted;
  }

  private async consumers(): Promise<ConsumerInfo[]> {
    try {
      const infos: ConsumerInfo[] = [];
      for await (const page of this.ctx.jsm.consumers.list(this.ctx.stream)) infos.push(page);
      return infos;
    } catch (error) {
      if (isNotFound(error)) return [];
      throw connectionFailure(
        error,
        `cannot list the consumers of stream "${this.ctx.stream}"`,
        this.ctx.redactor,
      );
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Lag as the subscriptions report it: records not delivered yet (`num_pending`) plus records
 * delivered and not acknowledged (`num_ack_pending`). JetStream counts pull requests, not members:
 * `members` stays undefined; a pull request waiting says the group is `active`, none with nothing
 * delivered says `idle`, none while records are delivered (members busy with all they may hold,
 * or gone without acknowledging) cannot be told apart: `unknown`.
 */
function describeGroup(topic: string, group: string, infos: readonly ConsumerInfo[]): GroupDescription {
  let lag = 0;
  let pending = 0;
  let waiting = 0;
  for (const info of infos) {
    lag += info.num_pending + info.num_ack_pending;
    pending += info.num_ack_pending;
    waiting += info.num_waiting;
  }
  const state = waiting > 0 ? 'active' : pending === 0 ? 'idle' : 'unknown';
  return { topic, group, lag, pending, members: undefined, state };
}
