import { randomBytes } from 'node:crypto';
import {
  ConnectionError,
  PublishError,
  type Redactor,
  whenAborted,
  withTimeout,
} from '@tidings/core/adapter';
import type { Channel, ConfirmChannel, Message } from 'amqplib';
import { headerTableLimit, headerTableProblem, type Publication } from './codec';
import type { Link } from './connection';

/** A publication waiting for its confirm; `returned` is set when the broker could not route it. */
interface Unconfirmed {
  returned: string | undefined;
}

/**
 * Publishes on one confirm channel of the publish connection. A record counts as published when
 * the broker confirms it (for a quorum queue: written to the log); a record published with the
 * `mandatory` flag that no queue takes is returned by the broker before its confirm, which turns
 * the confirm into a `PublishError`. Returns carry no delivery tag, so they are matched to their
 * publication by `message-id`.
 */
export class Publisher {
  private channel: ConfirmChannel | undefined;
  /** Why the broker closed each channel (a 406 for a message over `max_message_size`, ...). */
  private readonly closeErrors = new WeakMap<ConfirmChannel, Error>();
  private opening: Promise<ConfirmChannel> | undefined;
  private admin: Promise<Channel> | undefined;
  private readonly unconfirmed = new Map<string, Unconfirmed[]>();
  private readonly idPrefix = randomBytes(6).toString('base64url');
  private sequence = 0;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly link: Link,
    private readonly declareExchange: (channel: Channel) => Promise<void>,
    private readonly timeoutMs: number,
    private readonly redactor: Redactor,
  ) {}

  /**
   * The largest header table a publication may carry on this connection (amqplib's encoding
   * buffer, the negotiated frame_max).
   */
  get headerLimit(): number {
    return headerTableLimit(this.link.frameMax);
  }

  /** A message id unique to this publisher, for records without one. */
  nextId(): string {
    this.sequence++;
    return `${this.idPrefix}-${this.sequence.toString(36)}`;
  }

  /**
   * Publishes, in order, and resolves once the broker confirmed every publication. Rejects with a
   * `PublishError` naming the first failure (nack, return, lost channel), or when it all takes
   * longer than the publish timeout, waiting for a lost connection included.
   */
  async send(publications: readonly Publication[]): Promise<void> {
    if (publications.length === 0) return;
    // Every record is checked before the first is sent: amqplib would throw a RangeError on a
    // header table over its buffer, and RabbitMQ close the connection on a frame over frame_max.
    const limit = this.headerLimit;
    for (const publication of publications) {
      const problem = headerTableProblem(publication, limit);
      if (problem !== undefined) throw problem;
    }
    this.inFlight++;
    const deadline = Date.now() + this.timeoutMs;
    try {
      // The channel is open but for a reconnect: take it without arming a timer for the wait.
      const channel =
        this.channel ??
        (await withTimeout(this.ready(), deadline - Date.now(), () => this.notConnected()).catch(
          (error: unknown) => {
            throw error instanceof PublishError ? error : this.notConnected(error);
          },
        ));
      if (publications.length === 1) {
        // One record per call is the common case (bus.publish): one confirm to wait for, no allSettled.
        const publication = publications[0]!;
        const { confirmed, writable } = this.publishOne(channel, publication);
        if (!writable) {
          // Observed here so that a nack during the drain wait is not an unhandled rejection.
          confirmed.catch(() => undefined);
          await withTimeout(drained(channel), deadline - Date.now(), () =>
            this.notConfirmed(publication.topic),
          );
        }
        await withTimeout(confirmed, deadline - Date.now(), () => this.notConfirmed(publication.topic));
        return;
      }
      const confirms: Promise<void>[] = [];
      for (const publication of publications) {
        const { confirmed, writable } = this.publishOne(channel, publication);
        confirms.push(confirmed);
        // amqplib buffers what the socket cannot take yet; wait rather than let the buffer grow.
        if (!writable) {
          await withTimeout(drained(channel), deadline - Date.now(), () =>
            this.notConfirmed(publication.topic),
          );
        }
      }
      const outcomes = await withTimeout(Promise.allSettled(confirms), deadline - Date.now(), () =>
        this.notConfirmed(publications[0]!.topic),
      );
      for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /**
   * Runs a declaration on a channel of its own, so that a refused declaration (which closes its
   * channel) does not take publications in flight down with it.
   */
  async declare(task: (channel: Channel) => Promise<void>): Promise<void> {
    this.admin ??= this.openAdmin();
    const channel = await this.admin;
    await task(channel);
  }

  /** Waits for publications in flight (or for `signal`), then closes the channels. */
  async close(signal: AbortSignal | undefined): Promise<void> {
    if (this.inFlight > 0) {
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      await (signal === undefined ? idle : Promise.race([idle, whenAborted(signal)]));
    }
    const channel = this.channel;
    this.channel = undefined;
    await channel?.close().catch(() => undefined);
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((c) => c.close()).catch(() => undefined);
  }

  private publishOne(
    channel: ConfirmChannel,
    publication: Publication,
  ): { confirmed: Promise<void>; writable: boolean } {
    const id = publication.options.messageId;
    const entry: Unconfirmed = { returned: undefined };
    const tracked = publication.options.mandatory === true;
    if (tracked) {
      const list = this.unconfirmed.get(id);
      if (list === undefined) this.unconfirmed.set(id, [entry]);
      else list.push(entry);
    }
    let writable = true;
    const confirmed = new Promise<void>((resolve, reject) => {
      const { exchange, routingKey, content, options, topic } = publication;
      try {
        writable = channel.publish(exchange, routingKey, content, options, (error: unknown) => {
          if (tracked) this.untrack(id, entry);
          if (error !== null && error !== undefined) {
            this.retire(channel);
            const cause = this.redactor.error(this.lostWith(channel, publication, error));
            reject(
              new PublishError(`RabbitMQ did not take a record for "${topic}": ${cause.message}`, {
                topic,
                cause,
              }),
            );
          } else if (entry.returned !== undefined) {
            reject(
              new PublishError(
                `no queue is bound to "${routingKey}" on exchange "${exchange || '(default)'}", so RabbitMQ returned the record (${entry.returned}); subscribe a group first, or set rejectUnroutable: false to let RabbitMQ drop such records`,
                { topic },
              ),
            );
          } else {
            resolve();
          }
        });
      } catch (error) {
        // Thrown at once: the channel is closed, or a header table is too large to encode.
        if (tracked) this.untrack(id, entry);
        const cause = this.redactor.error(error);
        reject(
          new PublishError(`could not publish a record for "${topic}": ${cause.message}`, { topic, cause }),
        );
      }
    });
    return { confirmed, writable };
  }

  /**
   * Why a confirm was lost: the broker's reason for closing the channel when it concerns this
   * publication (a 406 for a body over `max_message_size` names the size it refused), else the
   * client's plain "channel closed", which says the record may simply be published again.
   */
  private lostWith(channel: ConfirmChannel, publication: Publication, error: unknown): unknown {
    const reason = this.closeErrors.get(channel);
    if (reason === undefined) return error;
    const refusedSize = /message size (\d+)/.exec(reason.message)?.[1];
    if (refusedSize !== undefined && Number(refusedSize) !== publication.content.byteLength) {
      return new Error(`channel closed, over another record: ${reason.message}`);
    }
    return reason;
  }

  /**
   * Publishes no more on a channel that had a record nacked, and closes it: RabbitMQ nacks only
   * when a queue process failed the record, and a channel that sent to a quorum queue while its
   * leader died can nack every later record too (RabbitMQ 3.10, seen in the cluster failover test:
   * thousands of nacks in a row, until the channel was replaced). The next publish opens a new
   * channel; the records in flight on this one are settled by its close.
   */
  private retire(channel: ConfirmChannel): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    channel.close().catch(() => undefined);
  }

  private ready(): Promise<ConfirmChannel> {
    if (this.channel !== undefined) return Promise.resolve(this.channel);
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async open(): Promise<ConfirmChannel> {
    const channel = await this.link.createConfirmChannel();
    channel.on('return', (message: Message) => this.onReturn(message));
    // The 'close' that follows an 'error' is what matters; its reason goes with the lost confirms.
    channel.on('error', (error: Error) => this.closeErrors.set(channel, error));
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    try {
      await this.declareExchange(channel);
    } catch (error) {
      await channel.close().catch(() => undefined);
      throw error;
    }
    this.channel = channel;
    return channel;
  }

  private async openAdmin(): Promise<Channel> {
    try {
      const channel = await this.link.createChannel();
      channel.on('error', () => undefined);
      channel.on('close', () => {
        this.admin = undefined;
      });
      return channel;
    } catch (error) {
      this.admin = undefined;
      throw error;
    }
  }

  private onReturn(message: Message): void {
    const id: unknown = message.properties.messageId;
    if (typeof id !== 'string') return;
    const entry = this.unconfirmed.get(id)?.find((e) => e.returned === undefined);
    const fields = message.fields as { replyCode?: number; replyText?: string };
    if (entry !== undefined) entry.returned = `${fields.replyCode ?? 312} ${fields.replyText ?? 'NO_ROUTE'}`;
  }

  private untrack(id: string, entry: Unconfirmed): void {
    const list = this.unconfirmed.get(id);
    if (list === undefined) return;
    const index = list.indexOf(entry);
    if (index !== -1) list.splice(index, 1);
    if (list.length === 0) this.unconfirmed.delete(id);
  }

  private notConnected(error?: unknown): PublishError {
    if (error !== undefined) {
      const cause = this.redactor.error(error);
      return new PublishError(`cannot publish to RabbitMQ: ${cause.message}`, { cause });
    }
    const cause = this.link.lastError ?? new ConnectionError('not connected to RabbitMQ');
    return new PublishError(
      `not connected to RabbitMQ within the publish timeout of ${this.timeoutMs} ms: ${cause.message}`,
      { cause },
    );
  }

  private notConfirmed(topic: string): PublishError {
    const blocked = this.link.blockedReason;
    const why = blocked === undefined ? '' : ` (the broker blocks publishers: ${blocked})`;
    return new PublishError(
      `RabbitMQ did not confirm within the publish timeout of ${this.timeoutMs} ms${why}`,
      {
        topic,
      },
    );
  }
}

function drained(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      channel.off('drain', done);
      channel.off('close', done);
      resolve();
    };
    channel.on('drain', done);
    channel.on('close', done);
  });
}
