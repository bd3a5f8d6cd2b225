/**
 * Settling a delivered record on RabbitMQ: an ack, a retry copy published through the delay levels
 * then an ack, a dead letter published into a kept queue then an ack, or, when the copy cannot be
 * published, the record given back to its queue after a while. Everything is published and
 * confirmed before the original is acknowledged, so a crash in between duplicates a record rather
 * than losing it.
 *
 * @module
 */
import {
  ConfigError,
  ConnectionError,
  type DeadLetterLimits,
  type DeadLetterSettlement,
  type FittedDeadLetter,
  fitDeadLetter,
  type IncomingRecord,
  type LandedDeadLetter,
  PublishError,
  type Redactor,
  type RetrySettlement,
  type Settlement,
  type SettlementObserver,
  settlementHeaders,
  sleep,
  TidingsError,
  type TopicRule,
  topicProblem,
} from '@tidings/core/adapter';
import type { Channel, ConsumeMessage } from 'amqplib';
import { HEADER_ENTRY_BYTES, KEY_HEADER, LETTER_ID_HEADER, publicationOf, TOPIC_HEADER } from './codec';
import { planDelay } from './delay';
import { isPermanent } from './errors';
import { letterId } from './letters';
import type { Publisher } from './publisher';
import type { Topology } from './topology';

/** One channel of a subscription; deliveries are settled on the channel that brought them. */
export interface Lease {
  readonly channel: Channel;
  open: boolean;
  error: Error | undefined;
  readonly consumerTags: string[];
}

/** A message delivered to a subscription, and the record it carries. */
export interface Delivery {
  readonly lease: Lease;
  readonly message: ConsumeMessage;
  readonly queue: string;
  readonly record: IncomingRecord;
}

/** What settling needs from its subscription. */
export interface SettleContext {
  readonly group: string;
  readonly publisher: Publisher;
  readonly topology: Topology;
  /** The body limit of the adapter, which a dead letter's body must fit too. */
  readonly maxMessageBytes: number;
  /** The topic names the adapter accepts; dead-letter topics too. */
  readonly topicRule: TopicRule;
  readonly redactor: Redactor;
  readonly observer: SettlementObserver | undefined;
  /** Aborted when the subscription closes: records waiting to be given back go at once. */
  readonly closed: AbortSignal;
  /** Whether a close gave up waiting: late settlements are then left to the broker. */
  readonly abandoned: () => boolean;
  /** Keeps the error of a settlement that could not be applied, for the subscription's `lastError`. */
  readonly onError: (error: Error) => void;
}

/**
 * A record whose settlement could not be applied is held a while before it goes back to its queue
 * (and comes back with a higher delivery count): from 1 s on its first attempt, doubling with each
 * attempt, up to 30 s. A dead letter the broker keeps refusing is so tried again now and then,
 * never in a loop.
 */
const GIVE_BACK_FIRST_WAIT_MS = 1_000;
const GIVE_BACK_MAX_WAIT_MS = 30_000;

/** Header bytes kept for the dead-letter id the adapter stamps on every dead letter (29 characters). */
const LETTER_ID_RESERVE = HEADER_ENTRY_BYTES + LETTER_ID_HEADER.length + 48;

/** Applies the settlements of one subscription's deliveries. */
export class Settler {
  constructor(private readonly context: SettleContext) {}

  /**
   * Applies `settlement` to `delivery`. Never rejects: a settlement that cannot be applied is
   * reported to the observer (`settlementFailed`) and the record given back to its queue.
   */
  async apply(delivery: Delivery, settlement: Settlement): Promise<void> {
    if (!delivery.lease.open) {
      // The broker has put the record back in its queue already; settling it would duplicate it.
      this.failed(delivery, settlement, this.channelLost());
      return;
    }
    try {
      switch (settlement.type) {
        case 'ack':
          if (!this.acknowledge(delivery)) this.failed(delivery, settlement, this.channelLost());
          return;
        case 'retry':
          await this.redeliver(delivery, settlement);
          this.acknowledge(delivery);
          return;
        case 'deadLetter': {
          const landed = await this.deadLetter(delivery, settlement);
          // Said only now that the broker has confirmed the dead letter, before the ack goes out.
          this.tell(() => this.context.observer?.deadLettered(delivery.record, landed));
          this.acknowledge(delivery);
          return;
        }
      }
    } catch (thrown) {
      const error = this.settlementError(settlement, thrown);
      this.context.onError(error);
      this.failed(delivery, settlement, error);
      await this.giveBack(delivery, settlement, isPermanent(thrown));
    }
  }

  /** Publishes a copy with the next attempt's headers, through the delay levels when it must wait. */
  private async redeliver(delivery: Delivery, settlement: RetrySettlement): Promise<void> {
    const { topology, publisher } = this.context;
    const { record, queue } = delivery;
    const plan = planDelay(settlement.delayMs, topology.delayResolutionMs);
    if (plan !== undefined)
      await publisher.declare((channel) => topology.ensureDelayLevels(channel, plan.top));
    const copy = publicationOf(
      { key: record.key, headers: settlementHeaders(record.headers, settlement.headers), body: record.body },
      {
        exchange: plan === undefined ? '' : topology.delayExchange(plan.top),
        routingKey: queue,
        topic: record.topic,
      },
      this.messageIdOf(delivery),
      true,
      { [TOPIC_HEADER]: record.topic, ...plan?.headers },
    );
    await publisher.send([copy]);
  }

  /**
   * Publishes the dead letter to its topic, into a queue declared first so that it is kept. The
   * copy is the full record when it fits what RabbitMQ (through amqplib) takes, else the reduced
   * copy `fitDeadLetter` makes; when the broker refuses it all the same for a reason that would not
   * change (a `max_message_size` below the adapter's limit), the minimal copy, once. Resolves with
   * what landed once the broker has confirmed it.
   */
  private async deadLetter(delivery: Delivery, settlement: DeadLetterSettlement): Promise<LandedDeadLetter> {
    const { topology, publisher } = this.context;
    const { record } = delivery;
    const { topic, reason } = settlement;
    const problem = topicProblem(this.context.topicRule, topic);
    if (problem !== undefined) {
      // Permanent: no copy of the record can go there.
      throw new ConfigError(
        'deadLetterTopic',
        `cannot dead-letter a record of group "${this.context.group}": ${problem}`,
      );
    }
    const queue = topology.workQueue(this.context.group, topic);
    await publisher.declare((channel) => topology.ensureQueue(channel, queue, topic));
    // The key travels as a header: it is measured, and cut if it must be, with the others.
    const headers = settlementHeaders(record.headers, settlement.headers);
    if (record.key !== undefined) headers[KEY_HEADER] = record.key;
    const limits = this.deadLetterLimits();
    const full = fitDeadLetter(headers, record.body, limits);
    try {
      await this.sendLetter(delivery, topic, full);
      return { topic, reason, reduced: full.reduced };
    } catch (error) {
      if (!isPermanent(error)) throw error;
    }
    const minimal = fitDeadLetter(headers, record.body, { ...limits, minimal: true });
    await this.sendLetter(delivery, topic, minimal);
    return { topic, reason, reduced: minimal.reduced };
  }

  /**
   * What a dead letter must fit in: RabbitMQ limits the headers and the body apart, a header table
   * within amqplib's buffer and the negotiated frame_max, and a body within `maxMessageBytes`.
   */
  private deadLetterLimits(): DeadLetterLimits {
    // The table's own 4-byte length prefix is not a header, nor is the id stamped after the fit.
    const maxHeaderBytes = this.context.publisher.headerLimit - 4 - LETTER_ID_RESERVE;
    const maxBodyBytes = this.context.maxMessageBytes;
    return {
      maxBytes: maxHeaderBytes + maxBodyBytes,
      maxBodyBytes,
      maxHeaderBytes,
      headerOverheadBytes: HEADER_ENTRY_BYTES,
    };
  }

  private async sendLetter(delivery: Delivery, topic: string, letter: FittedDeadLetter): Promise<void> {
    const publication = publicationOf(
      { key: undefined, headers: letter.headers, body: letter.body },
      { exchange: this.context.topology.exchange, routingKey: topic, topic },
      this.messageIdOf(delivery),
      true,
      // Stamped last, just before the send: one process's letters get ids in publication order.
      { [LETTER_ID_HEADER]: letterId() },
    );
    await this.context.publisher.send([publication]);
  }

  /** Acknowledges a delivery; false when its channel closed meanwhile (the broker redelivers it). */
  private acknowledge(delivery: Delivery): boolean {
    if (!delivery.lease.open) return false;
    try {
      delivery.lease.channel.ack(delivery.message);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A settlement could not be applied (the retry copy or the dead letter was not confirmed): hold
   * the record a while (longer with each attempt), then give it back to its queue, where it comes
   * back with a higher delivery count.
   */
  private async giveBack(delivery: Delivery, settlement: Settlement, permanent: boolean): Promise<void> {
    this.context.topology.forget();
    const exponent = Math.min(Math.max(delivery.record.attempt, 1), 16) - 1;
    const backoff = Math.min(GIVE_BACK_MAX_WAIT_MS, GIVE_BACK_FIRST_WAIT_MS * 2 ** exponent);
    const wait = settlement.type === 'retry' && !permanent ? Math.min(settlement.delayMs, backoff) : backoff;
    await sleep(wait, this.context.closed);
    if (this.context.abandoned() || !delivery.lease.open) return;
    try {
      delivery.lease.channel.nack(delivery.message, false, true);
    } catch {
      // The channel closed meanwhile: the broker redelivers the record.
    }
  }

  /** The error a failed settlement is reported with: the adapter's own, or a redacted wrapper. */
  private settlementError(settlement: Settlement, thrown: unknown): Error {
    if (thrown instanceof TidingsError) return thrown;
    const cause = this.context.redactor.error(thrown);
    const what = settlement.type === 'deadLetter' ? `dead-letter to "${settlement.topic}"` : settlement.type;
    return new PublishError(`could not ${what} a record of group "${this.context.group}": ${cause.message}`, {
      cause,
      ...(settlement.type === 'deadLetter' ? { topic: settlement.topic } : {}),
    });
  }

  private channelLost(): ConnectionError {
    return new ConnectionError(
      `the RabbitMQ channel of group "${this.context.group}" closed before the settlement; the broker delivers the record again`,
    );
  }

  /** Tells the observer that a settlement could not be applied: the record stays with the broker. */
  private failed(delivery: Delivery, settlement: Settlement, error: Error): void {
    this.tell(() => this.context.observer?.settlementFailed(delivery.record, settlement, error));
  }

  private tell(report: () => void): void {
    try {
      report();
    } catch {
      // An observer must not throw; if it does, the settlement goes on regardless.
    }
  }

  private messageIdOf(delivery: Delivery): string {
    const id: unknown = delivery.message.properties.messageId;
    return typeof id === 'string' && id.length > 0 ? id : this.context.publisher.nextId();
  }
}
