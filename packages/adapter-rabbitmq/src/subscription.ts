/**
 * The consume loop of one subscription: its channel and consumers, reading deliveries into the
 * dispatcher, pausing, reopening a lost channel, closing. Settling a record is `settle.ts`.
 *
 * @module
 */
import {
  type AdapterSubscription,
  ClosedError,
  type CloseOptions,
  ConnectionError,
  type ConsumerLag,
  type ConsumerLagReporter,
  KeyedDispatcher,
  type RecordHandler,
  type Redactor,
  type SettlementObserver,
  type SubscribeSpec,
  type SubscriptionState,
  settlementOf,
  type TopicRule,
  whenAborted,
  withTimeout,
} from '@tidings/core/adapter';
import type { Channel, ConsumeMessage } from 'amqplib';
import { incomingRecordOf } from './codec';
import type { Link } from './connection';
import { declareError } from './errors';
import type { ResolvedOptions } from './options';
import type { Publisher } from './publisher';
import { probe } from './scan';
import { type Delivery, type Lease, Settler } from './settle';
import type { Topology } from './topology';

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

const ignore = (): undefined => undefined;

/** RabbitMQ allows a prefetch count of at most 65,535 (an AMQP short). */
export const MAX_PREFETCH = 65_535;

/**
 * A subscription: one channel with a consumer per work queue (one queue per topic), the spec's
 * prefetch per consumer (at most AMQP's largest), handlers limited to its concurrency, manual
 * acknowledgements. The channel is reopened, and the queues
 * redeclared, whenever the broker or the network takes it away; deliveries that were in flight on
 * the lost channel are not settled (the broker has already given them back to the queue).
 */
export class RabbitMQSubscription implements AdapterSubscription, ConsumerLagReporter {
  private current: SubscriptionState = 'starting';
  private error: Error | undefined;
  private lease: Lease | undefined;
  private started = false;
  private closing: Promise<void> | undefined;
  /** Set when a close gave up waiting: late settlements are then left to the broker. */
  private abandoned = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private reopenAttempts = 0;
  private readonly closed = new AbortController();
  private readonly queues: readonly { readonly queue: string; readonly topic: string }[];
  private readonly dispatcher: KeyedDispatcher<Delivery>;
  private readonly settler: Settler;
  /** Deliveries received and not settled yet: the broker counts them as unacknowledged, not ready. */
  private readonly unsettled = new Set<Delivery>();

  constructor(
    private readonly spec: SubscribeSpec,
    private readonly handler: RecordHandler,
    private readonly context: SubscriptionContext,
    observer: SettlementObserver | undefined,
  ) {
    this.queues = spec.topics.map((topic) => ({
      topic,
      queue: context.topology.workQueue(spec.group, topic),
    }));
    // The prefetch lets more in than `concurrency` (each consumer's, with several topics): the
    // dispatcher keeps the handlers within it, and holds what came in when a pause did.
    this.dispatcher = new KeyedDispatcher<Delivery>({
      concurrency: spec.concurrency,
      ordering: 'none',
      keyOf: () => undefined,
      run: (delivery) => this.process(delivery),
      onError: (error) => {
        this.error = context.redactor.error(error);
      },
    });
    this.settler = new Settler({
      group: spec.group,
      publisher: context.publisher,
      topology: context.topology,
      maxMessageBytes: context.options.maxMessageBytes,
      topicRule: context.topicRule,
      redactor: context.redactor,
      observer,
      closed: this.closed.signal,
      abandoned: () => this.abandoned,
      onError: (error) => {
        this.error = error;
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

  /**
   * Cancels the consumers, so that the broker keeps the group's records; deliveries already
   * running finish and are settled, and those received but not started wait for {@link resume}.
   */
  pause(): void {
    if (this.dispatcher.paused || this.closing !== undefined) return;
    this.dispatcher.pause();
    if (this.current === 'running') this.current = 'paused';
    if (this.lease !== undefined) void this.cancelConsumers(this.lease);
  }

  resume(): void {
    if (!this.dispatcher.paused || this.closing !== undefined) return;
    this.dispatcher.resume();
    const lease = this.lease;
    if (lease === undefined) return;
    if (this.current === 'paused') this.current = 'running';
    this.consume(lease).catch((error: unknown) => this.fail(lease, error));
  }

  /**
   * Records of each topic the group has not settled: the messages ready in its queue (AMQP's
   * count, read now) plus the deliveries this subscription holds unsettled, waiting or in handlers.
   * Deliveries other members of the group hold, in other processes, are not counted, nor retries
   * waiting in the delay queues, which every group shares; `describeGroups` (`tidings groups`)
   * gives the group-wide figure through the management API. One queue check per topic.
   */
  async lag(): Promise<ConsumerLag[]> {
    return Promise.all(
      this.queues.map(async ({ queue, topic }) => {
        const counts = await probe(this.context.link, queue);
        let held = 0;
        // A delivery of a lost channel went back to the queue: it is counted as ready there.
        for (const delivery of this.unsettled) if (delivery.queue === queue && delivery.lease.open) held++;
        return { topic, messages: (counts?.messageCount ?? 0) + held };
      }),
    );
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
    // Deliveries a pause held are handled and settled like the others: given back, they would
    // come back counted as one more attempt without having been tried.
    this.dispatcher.resume();
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
      // Holding fewer than asked is allowed; AMQP cannot count more.
      await channel.prefetch(Math.min(this.spec.prefetch, MAX_PREFETCH), false);
      for (const { queue, topic } of this.queues)
        await this.context.topology.declareQueue(channel, queue, topic);
      if (!this.dispatcher.paused) await this.consume(lease);
    } catch (error) {
      if (this.lease === lease) this.lease = undefined;
      await channel.close().catch(ignore);
      throw declareError(
        error,
        `the queues of group "${this.spec.group}" (${this.queueList()})`,
        this.context.redactor,
      );
    }
    this.current = this.dispatcher.paused ? 'paused' : 'running';
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
      (late) => void late.value?.close().catch(ignore),
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
    if (this.dispatcher.paused || this.closing !== undefined) await this.cancelConsumers(lease);
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
    const delivery: Delivery = {
      lease,
      message,
      queue,
      record: incomingRecordOf(message, queue, this.context.options.queueType),
    };
    this.unsettled.add(delivery);
    this.dispatcher.push(delivery);
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
    for (const delivery of this.unsettled) if (delivery.lease === lease) this.unsettled.delete(delivery);
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

  /** Runs the handler on one delivery and applies its settlement. */
  private async process(delivery: Delivery): Promise<void> {
    try {
      const settlement = await settlementOf(this.handler, delivery.record);
      // A close that gave up waiting leaves the record to the broker, as it said.
      if (this.abandoned) return;
      await this.settler.apply(delivery, settlement);
    } finally {
      this.unsettled.delete(delivery);
    }
  }

  private queueList(): string {
    return this.queues.map((q) => q.queue).join(', ');
  }
}
