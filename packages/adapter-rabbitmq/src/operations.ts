/**
 * Dead letters of the RabbitMQ adapter: browsing, redriving and purging them. The dead letters of
 * a group for a topic are the messages of one durable queue, `<exchange>/<group>/<dead-letter
 * topic>` (see `topology.ts`), each stamped with an id when it was published (see `letters.ts`).
 *
 * A queue can only be read from its front, and taking a message hides it from everyone else until
 * it is given back. So every operation takes the whole queue (or as much as it needs) without
 * acknowledging it, acknowledges what it removes, and gives the rest back by closing its channel.
 * A page is the letters after the cursor in id order, which is a full pass over the queue.
 *
 * @module
 */
import {
  ConfigError,
  ConnectionError,
  type DeadLetterLocation,
  type DeadLetterPage,
  PublishError,
  type Redactor,
  type RedriveOutcome,
  redriveHeaders,
  type StoredDeadLetter,
  TidingsError,
} from '@tidings/core/adapter';
import type { ConsumeMessage } from 'amqplib';
import { publicationOf, TOPIC_HEADER } from './codec';
import type { Link } from './connection';
import { idOf, isLetterId, letterOf } from './letters';
import type { Publisher } from './publisher';
import { type Held, probe, scan } from './scan';
import type { Topology } from './topology';

/**
 * Why the adapter cannot replay: what a classic or quorum queue delivered and was acknowledged is
 * gone. A RabbitMQ stream would keep it (consumers attach at an offset or a timestamp), but the
 * adapter's groups read queues, not streams.
 */
export const REPLAY_UNAVAILABLE =
  'a RabbitMQ classic or quorum queue deletes a record once its group acknowledged it, so there is no history to replay (a RabbitMQ stream would keep it, readable from a timestamp, but the adapter does not use streams)';

/** The dead-letter operations over one adapter's connection, topology and publisher. */
export class DeadLetterQueues {
  constructor(
    private readonly link: Link,
    private readonly topology: Topology,
    private readonly publisher: Publisher,
    private readonly redactor: Redactor,
  ) {}

  async read(at: DeadLetterLocation, cursor: string | undefined, limit: number): Promise<DeadLetterPage> {
    if (cursor !== undefined && !isLetterId(cursor)) {
      throw new ConfigError('cursor', `"${cursor}" is not a dead-letter id of the RabbitMQ adapter`);
    }
    const queue = this.queueOf(at);
    const held = await this.scan(at, queue);
    if (held === undefined) return { letters: [], cursor: undefined };
    let after: StoredDeadLetter[];
    try {
      after = held.messages
        .map((message) => letterOf(message, queue))
        .filter((letter) => cursor === undefined || letter.id > cursor)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    } finally {
      await held.release();
    }
    const letters = after.slice(0, limit);
    return { letters, cursor: after.length > limit ? letters.at(-1)!.id : undefined };
  }

  async redrive(at: DeadLetterLocation, ids: readonly string[]): Promise<RedriveOutcome[]> {
    const target = this.topology.workQueue(at.group, at.topic);
    const exists = await this.call(`cannot look up the queue of group "${at.group}"`, () =>
      probe(this.link, target),
    );
    if (exists === undefined) {
      const reason = `group "${at.group}" has no queue for "${at.topic}" ("${target}"): it was deleted, or never subscribed`;
      return ids.map((id) => ({ id, status: 'refused', reason }));
    }
    const queue = this.queueOf(at);
    const found = new Map<string, ConsumeMessage>();
    const held = await this.take(at, queue, ids, found);
    const outcomes = new Map<string, RedriveOutcome>();
    try {
      await Promise.all(
        [...found].map(async ([id, message]) => {
          const letter = letterOf(message, queue);
          const publication = publicationOf(
            { key: letter.key, headers: redriveHeaders(letter.headers), body: letter.body },
            // The default exchange routes by queue name: the failed group's queue alone gets it.
            { exchange: '', routingKey: target, topic: at.topic },
            messageIdOf(message, () => this.publisher.nextId()),
            true,
            { [TOPIC_HEADER]: at.topic },
          );
          try {
            await this.publisher.send([publication]);
          } catch (error) {
            const cause = error instanceof TidingsError ? error : this.redactor.error(error);
            outcomes.set(id, { id, status: 'refused', reason: cause.message });
            return;
          }
          // Only now that the broker confirmed the copy: a crash before this line leaves both.
          held?.ack(message);
          outcomes.set(id, { id, status: 'redriven' });
        }),
      );
    } finally {
      await held?.release();
    }
    return ids.map((id) => outcomes.get(id) ?? { id, status: 'missing' });
  }

  async delete(at: DeadLetterLocation, ids: readonly string[]): Promise<number> {
    const found = new Map<string, ConsumeMessage>();
    const held = await this.take(at, this.queueOf(at), ids, found);
    if (held === undefined) return 0;
    try {
      for (const message of found.values()) held.ack(message);
    } finally {
      await held.release();
    }
    return found.size;
  }

  /** Takes the queue until every letter named is found; `found` gets the first of each id. */
  private async take(
    at: DeadLetterLocation,
    queue: string,
    ids: readonly string[],
    found: Map<string, ConsumeMessage>,
  ): Promise<Held | undefined> {
    const wanted = new Set(ids.filter(isLetterId));
    if (wanted.size === 0) return undefined;
    let seen = 0;
    return this.scan(at, queue, (messages) => {
      for (; seen < messages.length; seen++) {
        const message = messages[seen]!;
        const id = idOf(message);
        if (wanted.has(id) && !found.has(id)) found.set(id, message);
      }
      return found.size === wanted.size;
    });
  }

  private scan(
    at: DeadLetterLocation,
    queue: string,
    enough?: (messages: readonly ConsumeMessage[]) => boolean,
  ): Promise<Held | undefined> {
    return this.call(`cannot read the dead letters of group "${at.group}" ("${queue}")`, () =>
      scan(this.link, queue, enough),
    );
  }

  private queueOf(at: DeadLetterLocation): string {
    // The queue the dead letters were published into: the one the same group would read that topic from.
    return this.topology.workQueue(at.group, at.deadLetterTopic);
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof TidingsError && !(error instanceof PublishError)) throw error;
      const cause = this.redactor.error(error);
      throw new ConnectionError(`${what}: ${cause.message}`, { cause });
    }
  }
}

function messageIdOf(message: ConsumeMessage, fallback: () => string): string {
  const id: unknown = message.properties.messageId;
  return typeof id === 'string' && id.length > 0 ? id : fallback();
}
