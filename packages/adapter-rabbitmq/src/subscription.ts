import {
  type AdapterSubscription,
  ClosedError,
  type CloseOptions,
  ConfigError,
  ConnectionError,
  type DeadLetterLimits,
  type DeadLetterSettlement,
  type FittedDeadLetter,
  fitDeadLetter,
  type IncomingRecord,
  KeyedDispatcher,
  type LandedDeadLetter,
  PublishError,
  type RecordHandler,
  type Redactor,
  type RetrySettlement,
  type Settlement,
  type SettlementObserver,
  type SubscribeSpec,
  type SubscriptionState,
  settlementHeaders,
  TidingsError,
  type TopicRule,
  topicProblem,
  whenAborted,
} from '@tidings/core/adapter';
import type { Channel, ConsumeMessage } from 'amqplib';
import {
  HEADER_ENTRY_BYTES,
  headerTableBytes,
  incomingRecordOf,
  KEY_HEADER,
  publicationOf,
  TOPIC_HEADER,
} from './codec';
import type { Link } from './connection';
import { planDelay } from './delay';
import { declareError, isPermanent } from './errors';
import type { ResolvedOptions } from './options';
import type { Publisher } from './publisher';
import type { Topology } from './topology';
import { sleep, withTimeout } from './wait';

/** What a subscription shares with its adapter. */
export interface SubscriptionContext {
  readonly link: Link;
  readonly publisher: Publisher;
  readonly topology: Topology;
  readonly options: ResolvedOptions;
  /** The topic names the adapter accepts; dead-letter topics too. */
  readonly topicRule: TopicRule;
  /** Removes the adapter's secrets from every error the subscription keeps or reports. */
  readonly redactor: Redactor;
  readonly onClosed: (subscription: RabbitMQSubscription) => void;
}

/** One channel of the subscription; deliveries are settled on the channel that brought them. */
interface Lease {
  readonly channel: Channel;
  open: boolean;
  error: Error | undefined;
  readonly consumerTags: string[];
}

interface Delivery {
  readonly lease: Lease;
  readonly message: ConsumeMessage;
  readonly queue: string;
  readonly record: IncomingRecord;
}

const RETRY_NOW: Settlement = Object.freeze({ type: 'retry', delayMs: 0, headers: Object.freeze({}) });

/**
 * A record whose settlement could not be applied is held a while before it goes back to its queue
 * (and comes back with a higher delivery count): from 1 s on its first attempt, doubling with each
 * attempt, up to 30 s. A dead letter the broker keeps refusing is so tried again now and then,
 * never in a loop.
 */
const GIVE_BACK_FIRST_WAIT_MS = 1_000;
const GIVE_BACK_MAX_WAIT_MS = 30_000;

const ignore = (): undefined => undefined;

// The core never settles with anything else; a hand-written handler might.
function isSettlement(value: unknown): value is Settlement {
  const type = (value as { type?: unknown } | null)?.type;
  return type === 'ack' || type === 'retry' || type === 'deadLetter';
}

/**
 * A subscription: one channel with a consumer per work queue (one queue per topic), prefetch =
 * concurrency per consumer, manual acknowledgements. The channel is reopened, and the queues
 * redeclared, whenever the broker or the network takes it away; deliveries that were in flight on
 * the lost channel are not settled (the broker has already given them back to the queue).
 */
export class RabbitMQSubscription implements AdapterSubscription {
  private current: SubscriptionState = 'starting';
  private error: Error | undefined;
  private lease: Lease | undefined;
  private paused = false;
  private started = false;
  private closing: Promise<void> | undefined;
  /** Set when a close gave up waiting: late settlements are then left to the broker. */
  private abandoned = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenAttempts = 0;
  private readonly closed = new AbortController();
  private readonly queues: readonly { readonly queue: string; readonly topic: string }[];
  private readonly dispatcher: KeyedDispatcher<Delivery>;

  constructor(
    private readonly spec: SubscribeSpec,
    private readonly handler: RecordHandler,
    private readonly context: SubscriptionContext,
    private readonly observer: SettlementObserver | undefined,
  ) {
    this.queues = spec.topics.map((topic) => ({
      topic,
      queue: context.topology.workQueue(spec.group, topic),
    }));
    // With several topics, each consumer's prefetch lets more in than `concurrency`; the
    // dispatcher keeps the handlers within it.
    this.dispatcher = new KeyedDispatcher<Delivery>({
      concurrency: spec.concurrency,
      ordering: 'none',
      keyOf: () => undefined,
      run: (delivery) => this.process(delivery),
      onError: (error) => {
        this.error = context.redactor.error(error);
      },
    });
  }

  get state(): SubscriptionState {
    return this.current;
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /** Declares the queues and starts consuming; rejects when that fails. */
  async start(): Promise<void> {
    try {
      await this.open(true);
      this.started = true;
    } catch (error) {
      this.current = 'failed';
      this.error = this.context.redactor.error(error);
      throw error;
    }
  }

  pause(): void {
    if (this.paused || this.closing !== undefined) return;
    this.paused = true;
    if (this.current === 'running') this.current = 'paused';
    if (this.lease !== undefined) void this.cancelConsumers(this.lease);
  }

  resume(): void {
    if (!this.paused || this.closing !== undefined) return;
    this.paused = false;
    const lease = this.lease;
    if (lease === undefined) return;
    if (this.current === 'paused') this.current = 'running';
    this.consume(lease).catch((error: unknown) => this.fail(lease, error));
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.drain(options.signal);
    return this.closing;
  }

  private async drain(signal: AbortSignal | undefined): Promise<void> {
    this.current = 'closed';
    clearTimeout(this.reopenTimer);
    // Records waiting to be handed back go back now rather than after their pause.
    this.closed.abort();
    const lease = this.lease;
    const stopped = lease === undefined ? Promise.resolve() : this.cancelConsumers(lease);
    const idle = stopped.then(() => this.dispatcher.idle()).then(() => true);
    const finished = await (signal === undefined
      ? idle
      : Promise.race([idle, whenAborted(signal).then(() => false)]));
    if (!finished) this.abandoned = true;
    this.lease = undefined;
    // Closing the channel gives every unsettled delivery back to its queue.
    if (lease !== undefined) await lease.channel.close().catch(ignore);
    this.context.onClosed(this);
  }

  private async open(initial: boolean): Promise<void> {
    const channel = await this.acquireChannel(initial);
    const lease: Lease = { channel, open: true, error: undefined, consumerTags: [] };
    channel.on('error', (error: Error) => {
      const cause = this.context.redactor.error(error);
      lease.error = new ConnectionError(
        `RabbitMQ closed the channel of group "${this.spec.group}": ${cause.message}`,
        { cause },
      );
    });
    channel.on('close', () => this.onChannelClosed(lease));
    if (this.closing !== undefined) {
      await channel.close().catch(ignore);
      throw new ClosedError(`the subscription of group "${this.spec.group}" is closed`);
    }
    this.lease = lease;
    try {
      await channel.prefetch(this.spec.concurrency, false);
      for (const { queue, topic } of this.queues)
        await this.context.topology.declareQueue(channel, queue, topic);
      if (!this.paused) await this.consume(lease);
    } catch (error) {
      if (this.lease === lease) this.lease = undefined;
      await channel.close().catch(ignore);
      throw declareError(
        error,
        `the queues of group "${this.spec.group}" (${this.queueList()})`,
        this.context.redactor,
      );
    }
    this.current = this.paused ? 'paused' : 'running';
  }

  private acquireChannel(initial: boolean): Promise<Channel> {
    const pending = this.context.link.createChannel();
    if (!initial) return pending;
    const { connectTimeoutMs } = this.context.options;
    return withTimeout(
      pending,
      connectTimeoutMs,
      () =>
        new ConnectionError(
          `could not open a RabbitMQ channel for group "${this.spec.group}" within ${connectTimeoutMs} ms`,
          { cause: this.context.link.lastError },
        ),
      (late) => void late.close().catch(ignore),
    );
  }

  private async consume(lease: Lease): Promise<void> {
    for (const { queue } of this.queues) {
      const { consumerTag } = await lease.channel.consume(queue, (message) =>
        this.onMessage(lease, queue, message),
      );
      lease.consumerTags.push(consumerTag);
    }
    // A pause that came while the consumers were being registered.
    if (this.paused || this.closing !== undefined) await this.cancelConsumers(lease);
  }

  private async cancelConsumers(lease: Lease): Promise<void> {
    const tags = lease.consumerTags.splice(0);
    await Promise.all(tags.map((tag) => lease.channel.cancel(tag).catch(ignore)));
  }

  private onMessage(lease: Lease, queue: string, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (its queue was deleted): a new channel redeclares it.
      lease.error = new ConnectionError(
        `RabbitMQ cancelled the consumer of queue "${queue}"; was it deleted?`,
      );
      void lease.channel.close().catch(ignore);
      return;
    }
    this.dispatcher.push({
      lease,
      message,
      queue,
      record: incomingRecordOf(message, queue, this.context.options.queueType),
    });
  }

  private onChannelClosed(lease: Lease): void {
    lease.open = false;
    if (this.lease !== lease) return;
    this.lease = undefined;
    if (this.closing !== undefined || !this.started) return;
    this.current = 'reconnecting';
    this.error =
      lease.error ?? new ConnectionError(`lost the RabbitMQ channel of group "${this.spec.group}"`);
    // The broker gives back whatever was unacknowledged on the lost channel; what the handlers
    // have not started yet would otherwise run twice.
    this.dispatcher.drainQueued();
    this.scheduleReopen();
  }

  private fail(lease: Lease, error: unknown): void {
    lease.error = this.context.redactor.error(error);
    void lease.channel.close().catch(ignore);
  }

  private scheduleReopen(): void {
    const { initialDelayMs, maxDelayMs } = this.context.options.reconnect;
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** this.reopenAttempts);
    this.reopenAttempts++;
    this.reopenTimer = setTimeout(() => this.reopen(), base * (0.8 + Math.random() * 0.4));
  }

  private reopen(): void {
    this.reopenTimer = undefined;
    if (this.closing !== undefined) return;
    this.open(false).then(
      () => {
        this.reopenAttempts = 0;
      },
      (error: unknown) => {
        if (this.closing !== undefined) return;
        this.error = this.context.redactor.error(error);
        const link = this.context.link.state;
        if (link === 'failed' || link === 'closed') {
          this.current = 'failed';
          return;
        }
        this.current = 'reconnecting';
        this.scheduleReopen();
      },
    );
  }

  private async process(delivery: Delivery): Promise<void> {
    let settlement: Settlement;
    try {
      settlement = await this.handler(delivery.record);
    } catch {
      settlement = RETRY_NOW;
    }
    if (!isSettlement(settlement)) settlement = RETRY_NOW;
    // A close that gave up waiting leaves the record to the broker, as it said.
    if (this.abandoned) return;
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
          this.tell(() => this.observer?.deadLettered(delivery.record, landed));
          this.acknowledge(delivery);
          return;
        }
      }
    } catch (thrown) {
      const error = this.settlementError(settlement, thrown);
      this.error = error;
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
        `cannot dead-letter a record of group "${this.spec.group}": ${problem}`,
      );
    }
    const queue = topology.workQueue(this.spec.group, topic);
    await publisher.declare((channel) => topology.ensureQueue(channel, queue, topic));
    // The key travels as a header: it is measured, and cut if it must be, with the others.
    const headers = settlementHeaders(record.headers, settlement.headers);
    if (record.key !== undefined) headers[KEY_HEADER] = record.key;
    const limits = this.deadLetterLimits(headers);
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
   * What a dead letter must fit in: a header table within amqplib's buffer and the negotiated
   * frame_max, and a body within `maxMessageBytes`. RabbitMQ limits the two apart (its
   * `max_message_size` counts the body alone); `fitDeadLetter` takes one total, so the total is
   * the body limit plus the headers as they are (or as large as they may be, when they must be cut).
   */
  private deadLetterLimits(headers: Readonly<Record<string, string>>): DeadLetterLimits {
    // The table's own 4-byte length prefix is not a header.
    const maxHeaderBytes = this.context.publisher.headerLimit - 4;
    const headerBytes = Math.min(headerTableBytes(headers) - 4, maxHeaderBytes);
    return {
      maxBytes: this.context.options.maxMessageBytes + headerBytes,
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
    await sleep(wait, this.closed.signal);
    if (this.abandoned || !delivery.lease.open) return;
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
    return new PublishError(`could not ${what} a record of group "${this.spec.group}": ${cause.message}`, {
      cause,
      ...(settlement.type === 'deadLetter' ? { topic: settlement.topic } : {}),
    });
  }

  private channelLost(): ConnectionError {
    return new ConnectionError(
      `the RabbitMQ channel of group "${this.spec.group}" closed before the settlement; the broker delivers the record again`,
    );
  }

  /** Tells the observer that a settlement could not be applied: the record stays with the broker. */
  private failed(delivery: Delivery, settlement: Settlement, error: Error): void {
    this.tell(() => this.observer?.settlementFailed(delivery.record, settlement, error));
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

  private queueList(): string {
    return this.queues.map((q) => q.queue).join(', ');
  }
}
