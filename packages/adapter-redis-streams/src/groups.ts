import { ConfigError, type GroupDescription, type Redactor } from '@tidings/core/adapter';
import type { RedisClient } from './connection';
import { connectionFailure, isNoGroup, isReplyError } from './connection';
import { consumerInfos, groupInfos } from './replies';
import type { Shards } from './shards';

interface Tally {
  lag: number | null;
  pending: number;
  /** Consumers that read lately, and ordered members whose registration has not run out. */
  readonly members: Set<string>;
}

/**
 * The consumer groups of topics, as `XINFO` tells them, and their removal. A group spans the
 * topic's shards: its figures are summed over them.
 */
export class StreamGroups {
  /**
   * A member's reader asks Redis at least every `blockMs`; one not seen for twice that and a
   * second is not reading any more (it died, or it is an ordered member that does not hold the
   * lease, which counts through its registration instead).
   */
  private readonly liveWithinMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly shards: Shards,
    blockMs: number,
    private readonly redact: Redactor,
  ) {
    this.liveWithinMs = 2 * blockMs + 1_000;
  }

  async describe(topics: readonly string[]): Promise<GroupDescription[]> {
    const described: GroupDescription[] = [];
    for (const topic of topics) {
      const tallies = new Map<string, Tally>();
      for (const stream of this.shards.streams(topic)) {
        for (const info of await this.groupsOf(stream)) {
          const tally = tallies.get(info.name) ?? { lag: 0, pending: 0, members: new Set<string>() };
          // As the subscription's own `lag()`: not delivered yet plus delivered and not settled.
          tally.lag = tally.lag === null || info.lag === null ? null : tally.lag + info.lag + info.pending;
          tally.pending += info.pending;
          for (const consumer of await this.consumersOf(stream, info.name)) {
            if (consumer.idleMs < this.liveWithinMs) tally.members.add(consumer.name);
          }
          tallies.set(info.name, tally);
        }
      }
      const names = [...tallies.keys()].sort();
      for (const group of names) {
        const tally = tallies.get(group)!;
        const registered = await this.call(`cannot read the members of group "${group}"`, () =>
          this.redis.zrangebyscore(this.shards.keys.members(topic, group), Date.now(), '+inf'),
        );
        for (const member of registered) tally.members.add(member);
        described.push({
          topic,
          group,
          lag: tally.lag ?? undefined,
          pending: tally.pending,
          members: tally.members.size,
          state: tally.members.size > 0 ? 'active' : 'idle',
        });
      }
    }
    return described;
  }

  async delete(topic: string, group: string): Promise<boolean> {
    const [description] = (await this.describe([topic])).filter((g) => g.group === group);
    if (description === undefined) return false;
    if (description.state === 'active') {
      // Redis would destroy it under its members' feet; their next read would fail.
      throw new ConfigError(
        'group',
        `consumer group "${group}" still has ${description.members} member(s) reading topic "${topic}"; stop them first`,
      );
    }
    const streams = this.shards.streams(topic);
    const { keys } = this.shards;
    const leftovers = [keys.members(topic, group)];
    for (const stream of streams) {
      leftovers.push(keys.due(stream, group), keys.retryHeaders(stream, group), keys.lease(stream, group));
    }
    let destroyed = 0;
    for (const stream of streams) {
      destroyed += Number(
        await this.call(`cannot delete group "${group}" of "${stream}"`, () =>
          this.redis.xgroup('DESTROY', stream, group),
        ),
      );
    }
    // On a cluster the keys lie in several slots, which one DEL cannot take.
    await this.call(`cannot delete the retry state of group "${group}"`, () =>
      this.shards.clustered
        ? Promise.all(leftovers.map((key) => this.redis.del(key))).then((counts) => counts.length)
        : this.redis.del(...leftovers),
    );
    return destroyed > 0;
  }

  private async groupsOf(stream: string) {
    try {
      return groupInfos(await this.redis.xinfo('GROUPS', stream));
    } catch (error) {
      // A topic nothing was published to has no stream, hence no group.
      if (isReplyError(error) && /no such key/i.test((error as Error).message)) return [];
      throw connectionFailure(`cannot read the groups of "${stream}"`, error, this.redact);
    }
  }

  private async consumersOf(stream: string, group: string) {
    try {
      return consumerInfos(await this.redis.xinfo('CONSUMERS', stream, group));
    } catch (error) {
      if (isNoGroup(error)) return [];
      throw connectionFailure(`cannot read the consumers of group "${group}"`, error, this.redact);
    }
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw connectionFailure(what, error, this.redact);
    }
  }
}
