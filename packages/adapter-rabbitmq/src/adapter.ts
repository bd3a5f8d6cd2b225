import {
  type AdapterCapabilities,
  type AdapterSubscription,
  type BrokerAdapter,
  ClosedError,
  type CloseOptions,
  ConfigError,
  type ConnectionState,
  type ConnectionStateReporter,
  MessageTooLargeError,
  type OutgoingRecord,
  PublishError,
  type RecordHandler,
  type Redactor,
  type SettlementObserver,
  type SubscribeSpec,
  TidingsError,
  type TopicRule,
  topicProblem,
} from '@tidings/core/adapter';
import { messageIdOf, type Publication, publicationOf } from './codec';
import { Link } from './connection';
import { DELAY_LATENCY_MARGIN_MS } from './delay';
import { redactorOf } from './errors';
import { type RabbitMQAdapterOptions, type ResolvedOptions, resolveOptions } from './options';
import { Publisher } from './publisher';
import { RabbitMQSubscription } from './subscription';
import { Topology } from './topology';

/** RabbitMQ allows a prefetch count of at most 65,535 (an AMQP short). */
const MAX_PREFETCH = 65_535;

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
  });
}

type StateListener = (state: ConnectionState, error?: Error) => void;

class RabbitMQAdapter implements BrokerAdapter, ConnectionStateReporter {
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
      return Promise.reject(error);
    }
    return this.publisher.send(publications);
  }

  /**
   * Checks every record before anything is sent, each failure a typed error: a topic the rule
   * refuses, a body over `maxMessageBytes`, a header that is not a string (the publisher checks
   * that the headers fit a frame).
   */
  private publicationsOf(records: readonly OutgoingRecord[]): Publication[] {
    if (!Array.isArray(records)) throw new PublishError('publish takes an array of records');
    const limit = this.capabilities.maxMessageBytes;
    const rule = this.capabilities.topicRule;
    const publications: Publication[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const record: OutgoingRecord | undefined = records[i];
      if (record === null || typeof record !== 'object') {
        throw new PublishError(`record ${i} of the call is not a record`);
      }
      const problem = topicProblem(rule, record.topic);
      if (problem !== undefined) {
        throw new PublishError(`cannot publish: ${problem}`, {
          ...(typeof record.topic === 'string' ? { topic: record.topic } : {}),
        });
      }
      const size = (record.body as Uint8Array | undefined)?.byteLength;
      if (typeof size === 'number' && size > limit) throw new MessageTooLargeError(size, limit);
      try {
        publications[i] = publicationOf(
          record,
          { exchange: this.options.exchange, routingKey: record.topic, topic: record.topic },
          messageIdOf(record, () => this.publisher.nextId()),
          this.options.rejectUnroutable,
        );
      } catch (error) {
        if (error instanceof TidingsError) throw error;
        throw new PublishError(`cannot publish a record for "${record.topic}": ${String(error)}`, {
          topic: record.topic,
          cause: error,
        });
      }
    }
    return publications;
  }

  async subscribe(
    spec: SubscribeSpec,
    handler: RecordHandler,
    observer?: SettlementObserver,
  ): Promise<AdapterSubscription> {
    if (this.closing !== undefined) throw new ClosedError('cannot subscribe: the RabbitMQ adapter is closed');
    checkSpec(spec, this.capabilities.topicRule);
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
    return subscription;
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

function checkSpec(spec: SubscribeSpec, rule: TopicRule): void {
  if (spec.ordering === 'key') {
    throw new ConfigError(
      'ordering',
      "the RabbitMQ adapter does not deliver in key order (competing consumers, prefetch and retries reorder a queue); use ordering: 'none'",
    );
  }
  if (!Array.isArray(spec.topics) || spec.topics.length === 0) {
    throw new ConfigError('topics', 'subscribe to at least one topic');
  }
  for (const topic of spec.topics) {
    // Queue names are derived from the group and the topic, and always fit a short string
    // (`workQueueName` ends a long one in a hash); the topic itself is a routing key.
    const problem = topicProblem(rule, topic);
    if (problem !== undefined) throw new ConfigError('topics', problem);
  }
  if (!Number.isInteger(spec.concurrency) || spec.concurrency < 1 || spec.concurrency > MAX_PREFETCH) {
    throw new ConfigError(
      'concurrency',
      `must be an integer from 1 to ${MAX_PREFETCH} (RabbitMQ's largest prefetch), got ${String(spec.concurrency)}`,
    );
  }
  if (typeof spec.group !== 'string' || spec.group.length === 0) {
    throw new ConfigError('group', 'a subscription needs a non-empty consumer group');
  }
}

/**
 * Creates the RabbitMQ adapter, on amqplib. It declares its own topology (a durable topic
 * exchange, a quorum queue per consumer group and topic, shared delay levels for retries), publishes
 * with publisher confirms and the `mandatory` flag, consumes with manual acknowledgements and
 * prefetch = concurrency, and reconnects by itself, redeclaring its queues and resuming its consumers.
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
export function createRabbitMQAdapter(options: RabbitMQAdapterOptions = {}): BrokerAdapter {
  return new RabbitMQAdapter(options);
}
