import {
  type AdapterCapabilities,
  type AdapterSubscription,
  type BrokerAdapter,
  ClosedError,
  type CloseOptions,
  ConfigError,
  type ConnectionState,
  type ConnectionStateReporter,
  checkOutgoing,
  checkSubscribeSpec,
  type DeadLetterLocation,
  type DeadLetterPage,
  type DeadLetterStore,
  type GroupAdmin,
  type GroupDescription,
  type OutgoingRecord,
  PublishError,
  type RecordHandler,
  type Redactor,
  type RedriveOutcome,
  type SettlementObserver,
  type SubscribeSpec,
  TidingsError,
  type TopicRule,
} from '@tidings/core/adapter';
import { messageIdOf, type Publication, publicationOf } from './codec';
import { Link } from './connection';
import { DELAY_LATENCY_MARGIN_MS } from './delay';
import { redactorOf } from './errors';
import { GroupRegistry } from './groups';
import { ManagementApi } from './management';
import { DeadLetterQueues, REPLAY_UNAVAILABLE } from './operations';
import { type RabbitMQAdapterOptions, type ResolvedOptions, resolveOptions } from './options';
import { Publisher } from './publisher';
import { MAX_PREFETCH, RabbitMQSubscription } from './subscription';
import { Topology } from './topology';

/**
 * A topic is a routing key (an AMQP short string, 255 bytes) and part of queue names; `*` and `#`
 * would turn the binding of a work queue into a wildcard that matches other topics, and control
 * characters have no place in a name an operator reads.
 */
const TOPIC_RULE: TopicRule = Object.freeze({
  pattern: '^[^*#\\p{Cc}]+$',
  maxBytes: 200,
  description: "any characters but '*', '#' and control characters (AMQP routing keys)",
});

/**
 * What the RabbitMQ adapter can do with the given settings: no per-key ordering (competing
 * consumers, prefetch and retries reorder a queue), no replay (a new group's queue only gets what
 * is published after it exists), a broker-side delivery count only on quorum queues.
 *
 * @example
 * ```ts
 * rabbitmqCapabilities({ queueType: 'classic' }).deliveryCount; // false
 * ```
 */
export function rabbitmqCapabilities(options: RabbitMQAdapterOptions = {}): AdapterCapabilities {
  const resolved = resolveOptions(options);
  return capabilitiesOf(resolved);
}

// Dead letters are kept in a queue per group (see operations.ts); a queue forgets what it delivered,
// so there is no history to replay (a stream would keep it).
const RABBITMQ_OPERATIONS = Object.freeze({ deadLetters: true, replay: REPLAY_UNAVAILABLE });

function capabilitiesOf(options: ResolvedOptions): AdapterCapabilities {
  return Object.freeze({
    ordering: 'none',
    durable: true,
    replay: false,
    redelivery: true,
    deliveryCount: options.queueType === 'quorum',
    delayedRetry: true,
    nativeDeadLetter: true,
    deduplication: false,
    maxMessageBytes: options.maxMessageBytes,
    delayToleranceMs: options.delayResolutionMs + DELAY_LATENCY_MARGIN_MS,
    headerPrefix: 'cloudEvents:',
    topicRule: TOPIC_RULE,
    operations: RABBITMQ_OPERATIONS,
  });
}

/**
 * The RabbitMQ adapter: a broker adapter that reports its connection state, whose dead letters can
 * be browsed, redriven and purged, and whose groups can be listed and deleted (the optional
 * interfaces of `@tidings/core/adapter`, which `createOperator` uses). RabbitMQ cannot replay.
 *
 * @example
 * ```ts
 * const adapter: RabbitMQAdapter = createRabbitMQAdapter({ url: 'amqp://guest:guest@127.0.0.1:5672' });
 * const groups = await adapter.describeGroups(['order.placed']);
 * ```
 */
export interface RabbitMQAdapter
  extends BrokerAdapter,
    ConnectionStateReporter,
    DeadLetterStore,
    GroupAdmin {}

type StateListener = (state: ConnectionState, error?: Error) => void;

class RabbitMQAdapterImpl implements RabbitMQAdapter {
  readonly name = 'rabbitmq';
  readonly capabilities: AdapterCapabilities;
  private readonly options: ResolvedOptions;
  private readonly redactor: Redactor;
  private readonly listeners = new Set<StateListener>();
  private reported: ConnectionState = 'idle';
  private readonly topology: Topology;
  private readonly publishLink: Link;
  private readonly consumeLink: Link;
  private readonly publisher: Publisher;
  private readonly subscriptions = new Set<RabbitMQSubscription>();
  private readonly deadLetters: DeadLetterQueues;
  private readonly groups: GroupRegistry;
  private closing: Promise<void> | undefined;
  private closed = false;

  constructor(options: RabbitMQAdapterOptions) {
    this.options = resolveOptions(options);
    this.capabilities = capabilitiesOf(this.options);
    this.topology = new Topology(
      this.options.exchange,
      this.options.queueType,
      this.options.delayResolutionMs,
    );
    this.redactor = redactorOf(this.options);
    const events = { onStateChange: () => this.stateChanged() };
    this.publishLink = new Link('publish', this.options, this.redactor, events);
    this.consumeLink = new Link('consume', this.options, this.redactor, events);
    this.publisher = new Publisher(
      this.publishLink,
      (channel) => this.topology.declareExchange(channel),
      this.options.publishTimeoutMs,
      this.redactor,
    );
    this.deadLetters = new DeadLetterQueues(this.publishLink, this.topology, this.publisher, this.redactor);
    this.groups = new GroupRegistry(
      this.publishLink,
      this.topology,
      this.publisher,
      this.redactor,
      new ManagementApi(this.options.management),
    );
  }

  /**
   * Calls `listener` after every change of `state`: `connecting`, `connected`, `reconnecting` when
   * RabbitMQ or the network drops a connection (with the redacted reason), `connected` once both
   * connections are back, `failed`, `closed`.
   */
  onStateChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private stateChanged(): void {
    const state = this.state;
    if (state === this.reported) return;
    this.reported = state;
    const error =
      state === 'reconnecting' || state === 'failed'
        ? (this.publishLink.lastError ?? this.consumeLink.lastError)
        : undefined;
    for (const listener of [...this.listeners]) {
      try {
        listener(state, error);
      } catch {
        // A listener's failure is its own; the adapter and the other listeners go on.
      }
    }
  }

  get state(): ConnectionState {
    if (this.closed) return 'closed';
    // The consume connection opens with the first subscription; until then only publishing counts.
    const states = [this.publishLink.state, this.consumeLink.state].filter((s) => s !== 'idle');
    if (states.length === 0) return 'idle';
    // A link closes only when the adapter does: the adapter is closing.
    for (const state of ['closed', 'failed', 'reconnecting', 'connecting'] as const) {
      if (states.includes(state)) return state;
    }
    return 'connected';
  }

  async connect(): Promise<void> {
    if (this.closing !== undefined) throw new ClosedError('the RabbitMQ adapter is closed');
    await this.publishLink.open();
  }

  publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (this.closing !== undefined) {
      return Promise.reject(new ClosedError('cannot publish: the RabbitMQ adapter is closed'));
    }
    let publications: Publication[];
    try {
      publications = this.publicationsOf(records);
    } catch (error) {
      return Promise.reject(
        // What is no array of records fails untyped in the checks: a caller's mistake all the same.
        error instanceof TidingsError
          ? error
          : new PublishError(`cannot publish: ${this.redactor.error(error).message}`, { cause: error }),
      );
    }
    return this.publisher.send(publications);
  }

  /**
   * Checks every record before anything is sent, each failure a typed error: the kit's checks
   * (the topic rule, string keys and header values, the body size), then AMQP's own (a header name
   * over 255 bytes; the publisher checks that the headers fit a frame).
   */
  private publicationsOf(records: readonly OutgoingRecord[]): Publication[] {
    checkOutgoing(records, this.capabilities);
    return records.map((record) =>
      publicationOf(
        record,
        { exchange: this.options.exchange, routingKey: record.topic, topic: record.topic },
        messageIdOf(record, () => this.publisher.nextId()),
        this.options.rejectUnroutable,
      ),
    );
  }

  async subscribe(
    spec: SubscribeSpec,
    handler: RecordHandler,
    observer?: SettlementObserver,
  ): Promise<AdapterSubscription> {
    if (this.closing !== undefined) throw new ClosedError('cannot subscribe: the RabbitMQ adapter is closed');
    checkSubscribeSpec(spec, this.capabilities);
    if (spec.concurrency > MAX_PREFETCH) {
      throw new ConfigError(
        'concurrency',
        `must be at most ${MAX_PREFETCH} on RabbitMQ (its largest prefetch), got ${spec.concurrency}`,
      );
    }
    await this.consumeLink.open();
    const subscription = new RabbitMQSubscription(
      spec,
      handler,
      {
        link: this.consumeLink,
        publisher: this.publisher,
        topology: this.topology,
        options: this.options,
        topicRule: this.capabilities.topicRule,
        redactor: this.redactor,
        onClosed: (s) => this.subscriptions.delete(s),
      },
      observer,
    );
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      this.subscriptions.delete(subscription);
      throw error;
    }
    // After the queues exist: a registered group always had a queue (see groups.ts).
    await this.groups.register(spec.group, spec.topics);
    return subscription;
  }

  /**
   * Reads the dead letters of `at` in id order (the ids the adapter stamps when it dead-letters),
   * by taking the whole dead-letter queue without acknowledging it and giving it back: see
   * `operations.ts` for what that costs.
   */
  readDeadLetters(
    at: DeadLetterLocation,
    cursor: string | undefined,
    limit: number,
  ): Promise<DeadLetterPage> {
    return this.operating(() => this.deadLetters.read(at, cursor, limit));
  }

  /** Publishes each named dead letter to the failed group's queue alone, then removes it. */
  redriveDeadLetters(at: DeadLetterLocation, ids: readonly string[]): Promise<readonly RedriveOutcome[]> {
    return this.operating(() => this.deadLetters.redrive(at, ids));
  }

  deleteDeadLetters(at: DeadLetterLocation, ids: readonly string[]): Promise<number> {
    return this.operating(() => this.deadLetters.delete(at, ids));
  }

  /**
   * The groups registered for each topic (a group registers when it subscribes), with its queue's
   * consumers as members. When the management API answers (see the `management` option), `lag` is
   * the queue's messages, ready and unacknowledged, and `pending` the unacknowledged ones; without
   * it, `lag` is the ready messages AMQP reports and `pending` is unknown.
   */
  describeGroups(topics: readonly string[]): Promise<readonly GroupDescription[]> {
    return this.operating(() => this.groups.describe(topics));
  }

  /** Deletes the group's queue; refuses with a `ConfigError` naming `group` while it has consumers. */
  deleteGroup(topic: string, group: string): Promise<boolean> {
    return this.operating(() => this.groups.delete(topic, group));
  }

  private async operating<T>(task: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) throw new ClosedError('the RabbitMQ adapter is closed');
    await this.publishLink.open();
    return task();
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= (async () => {
      // Subscriptions first: their retries and dead letters still need the publisher.
      await Promise.all([...this.subscriptions].map((s) => s.close(options)));
      await this.publisher.close(options.signal);
      await Promise.all([this.consumeLink.close(), this.publishLink.close()]);
      this.closed = true;
      this.stateChanged();
    })();
    return this.closing;
  }
}

/**
 * Creates the RabbitMQ adapter, on amqplib. It declares its own topology (a durable topic
 * exchange, a quorum queue per consumer group and topic, shared delay levels for retries), publishes
 * with publisher confirms and the `mandatory` flag, consumes with manual acknowledgements and
 * the subscription's prefetch (handlers limited to its concurrency), and reconnects by itself,
 * redeclaring its queues and resuming its consumers.
 *
 * @example
 * ```ts
 * import { createBus } from '@tidings/core';
 * import { createRabbitMQAdapter } from '@tidings/adapter-rabbitmq';
 *
 * const bus = createBus({
 *   source: 'order-service',
 *   adapter: createRabbitMQAdapter({ url: 'amqp://guest:guest@127.0.0.1:5672', connectionName: 'order-service' }),
 * });
 * ```
 */
export function createRabbitMQAdapter(options: RabbitMQAdapterOptions = {}): RabbitMQAdapter {
  return new RabbitMQAdapterImpl(options);
}
