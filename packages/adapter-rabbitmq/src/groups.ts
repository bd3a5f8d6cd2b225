/**
 * The consumer groups of a topic, with AMQP alone. A group is a queue bound to the topic, but AMQP
 * cannot list queues (only the management plugin's HTTP API can, and it is not always on). So
 * each subscription leaves its group's name in a small durable queue of the topic,
 * `<exchange>.groups/<topic>`, one message per registration, and the groups are read from there:
 * each one's counters come from a passive declaration of its queue, and, when the management API
 * answers, its delivered and unacknowledged messages from there (see management.ts).
 *
 * @module
 */
import {
  ConfigError,
  ConnectionError,
  type GroupDescription,
  type Redactor,
  TidingsError,
} from '@tidings/core/adapter';
import type { ConsumeMessage } from 'amqplib';
import { GROUP_HEADER, publicationOf } from './codec';
import type { Link } from './connection';
import { REPLY, replyCode } from './errors';
import type { ManagementApi } from './management';
import { groupRegistryName } from './names';
import type { Publisher } from './publisher';
import { type Held, probe, type QueueCounts, scan, withChannel } from './scan';
import type { Topology } from './topology';

/** Lists, registers and deletes the groups of one adapter's exchange. */
export class GroupRegistry {
  /** What this process registered already: a subscription that reopens does not register again. */
  private readonly registered = new Set<string>();

  constructor(
    private readonly link: Link,
    private readonly topology: Topology,
    private readonly publisher: Publisher,
    private readonly redactor: Redactor,
    private readonly management: ManagementApi,
  ) {}

  /**
   * Leaves `group`'s name in the registry of each topic, once per process. Never rejects: a broker
   * that refuses the registry (a user without the right to declare it) costs the listing of the
   * group, not the subscription.
   */
  async register(group: string, topics: readonly string[]): Promise<void> {
    await Promise.all(
      topics.map(async (topic) => {
        const registry = groupRegistryName(this.topology.exchange, topic);
        const entry = JSON.stringify([registry, group]);
        if (this.registered.has(entry)) return;
        try {
          // Classic, whatever the groups' queue type: a few small messages, read and given back often.
          await this.publisher.declare(async (channel) => {
            await channel.assertQueue(registry, { durable: true });
          });
          const publication = publicationOf(
            { key: undefined, headers: { [GROUP_HEADER]: group }, body: new Uint8Array() },
            { exchange: '', routingKey: registry, topic },
            this.publisher.nextId(),
            true,
          );
          await this.publisher.send([publication]);
          this.registered.add(entry);
        } catch {
          // Best effort, as said: the subscription is running.
        }
      }),
    );
  }

  async describe(topics: readonly string[]): Promise<GroupDescription[]> {
    const groups: GroupDescription[] = [];
    for (const topic of topics) groups.push(...(await this.describeTopic(topic)));
    return groups;
  }

  async delete(topic: string, group: string): Promise<boolean> {
    const queue = this.topology.workQueue(group, topic);
    const existed = await this.call(`cannot delete group "${group}" of "${topic}"`, async () => {
      const counts = await probe(this.link, queue);
      if (counts === undefined) return false;
      if (counts.consumerCount > 0) throw this.hasMembers(group, topic, counts.consumerCount);
      await withChannel(this.link, async (channel) => {
        try {
          // `ifUnused`: a member that subscribed since the look makes the broker refuse. Quorum
          // queues do not implement it (RabbitMQ closes the channel): the look above is all there is.
          await channel.deleteQueue(queue, this.topology.queueType === 'classic' ? { ifUnused: true } : {});
        } catch (error) {
          if (replyCode(error) === REPLY.preconditionFailed) throw this.hasMembers(group, topic, 1);
          if (replyCode(error) !== REPLY.notFound) throw error;
        }
      });
      return true;
    });
    await this.forget(topic, (name) => name === group);
    // A subscription of this process that starts again must register the group again.
    this.registered.delete(JSON.stringify([groupRegistryName(this.topology.exchange, topic), group]));
    return existed;
  }

  private async describeTopic(topic: string): Promise<GroupDescription[]> {
    const registry = groupRegistryName(this.topology.exchange, topic);
    const held = await this.take(topic, registry);
    if (held === undefined) return [];
    const found: { group: string; counts: QueueCounts }[] = [];
    try {
      const seen = new Set<string>();
      for (const message of held.messages) {
        const group = groupOf(message);
        // A registration seen before, or unreadable, goes: the registry does not grow with restarts.
        if (group === undefined || seen.has(group)) {
          held.ack(message);
          continue;
        }
        seen.add(group);
        const counts = await this.call(`cannot describe group "${group}" of "${topic}"`, () =>
          probe(this.link, this.topology.workQueue(group, topic)),
        );
        if (counts === undefined) {
          // Its queue was deleted behind the adapter's back (rabbitmqctl, the management UI).
          held.ack(message);
          continue;
        }
        found.push({ group, counts });
      }
    } finally {
      await held.release();
    }
    const managed = await this.management.counts(
      found.map(({ group }) => this.topology.workQueue(group, topic)),
    );
    const described = found.map(({ group, counts }, index): GroupDescription => {
      const members = counts.consumerCount;
      const state = members > 0 ? 'active' : 'idle';
      const api = managed?.[index];
      // AMQP counts the ready messages only; the API adds those delivered and not acknowledged,
      // which lag counts too by the contract (published and not settled), as other adapters' lag() do.
      if (api === undefined)
        return { topic, group, lag: counts.messageCount, pending: undefined, members, state };
      return { topic, group, lag: api.messages, pending: api.unacknowledged, members, state };
    });
    return described.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  /** Removes the registrations of the groups `drop` names. */
  private async forget(topic: string, drop: (group: string | undefined) => boolean): Promise<void> {
    const held = await this.take(topic, groupRegistryName(this.topology.exchange, topic));
    if (held === undefined) return;
    try {
      for (const message of held.messages) if (drop(groupOf(message))) held.ack(message);
    } finally {
      await held.release();
    }
  }

  private take(topic: string, registry: string): Promise<Held | undefined> {
    return this.call(`cannot list the groups of "${topic}" ("${registry}")`, () => scan(this.link, registry));
  }

  private hasMembers(group: string, topic: string, members: number): ConfigError {
    return new ConfigError(
      'group',
      `group "${group}" still has ${members} member(s) consuming "${topic}"; close its subscriptions first`,
    );
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof TidingsError) throw error;
      const cause = this.redactor.error(error);
      throw new ConnectionError(`${what}: ${cause.message}`, { cause });
    }
  }
}

function groupOf(message: ConsumeMessage): string | undefined {
  const headers: Record<string, unknown> = message.properties.headers ?? {};
  const group = Object.hasOwn(headers, GROUP_HEADER) ? headers[GROUP_HEADER] : undefined;
  const text = Buffer.isBuffer(group) ? group.toString('utf8') : group;
  return typeof text === 'string' && text.length > 0 ? text : undefined;
}
