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
  type HistoryReplay,
  type OutgoingRecord,
  PublishError,
  type RecordHandler,
  type RedriveOutcome,
  type ReplayFrom,
  type SettlementObserver,
  type SubscribeSpec,
  TidingsError,
} from '@tidings/core/adapter';
import { type ConnectionMonitor, KafkaConnection } from './connection';
import { describeKafkaError } from './errors';
import { type AdapterLog, createAdapterLog } from './logging';
import { KafkaDeadLetters } from './operations/dead-letters';
import { deleteGroup, describeGroups, type GroupAdminDeps } from './operations/groups';
import { Ledgers } from './operations/ledger';
import { LogReader } from './operations/reader';
import { RedriveProducers } from './operations/redrive-producer';
import { replayHistory } from './operations/replay';
import {
  type KafkaAdapterOptions,
  type KafkaClientName,
  type ResolvedKafkaOptions,
  resolveOptions,
} from './options';
import { Publisher } from './publisher';
import { checkRetryTopicNames } from './retry-topics';
import { closedWhileStarting, KafkaSubscription } from './subscription/subscription';
import { TopicManager } from './topics';

/**
 * What the Kafka adapter can do. `deliveryCount` is false: Kafka does not count deliveries, so a
 * record that comes back because its consumer died starts again at the attempt the adapter last
 * committed for it. `maxMessageBytes` is the default of {@link KafkaAdapterOptions.maxMessageBytes}.
 *
 * @example
 * ```ts
 * if (kafkaCapabilities.ordering === 'key') bus.subscribe(OrderPlaced, { group: 'ledger', ordering: 'key' }, post);
 * ```
 */
export const kafkaCapabilities: AdapterCapabilities = Object.freeze({
  ordering: 'key',
  durable: true,
  replay: true,
  redelivery: true,
  deliveryCount: false,
  delayedRetry: true,
  nativeDeadLetter: true,
  deduplication: false,
  maxMessageBytes: 1_000_000,
  // A retry record waits in its consumer until due; the rest is one produce and one fetch.
  delayToleranceMs: 1_000,
  headerPrefix: 'ce_',
  // Kafka's own rule for topic names (Topic.validate), minus room for the retry and dead-letter
  // suffixes is the adapter's business: those names are checked when they are made.
  topicRule: {
    pattern: '^(?!\\.{1,2}$)[A-Za-z0-9._-]+$',
    maxBytes: 249,
    description: "ASCII letters, digits, '.', '_' and '-', not '.' or '..' alone (Kafka's rule)",
  },
  // Dead letters are browsed with plain fetches, removed through a ledger topic, and redriven
  // through the failed group's own retry topic, or to the original topic addressed to the group
  // when it has none; replay moves the group's offsets (see operations/).
  operations: Object.freeze({ deadLetters: true, replay: true }),
});

/**
 * The Kafka adapter: a {@link BrokerAdapter} with its operational interfaces (dead letters, history
 * replay, group administration) and connection state reports.
 *
 * @example
 * ```ts
 * const adapter: KafkaAdapter = createKafkaAdapter({ brokers: ['127.0.0.1:9092'] });
 * const groups = await adapter.describeGroups(['order.placed']);
 * ```
 */
export type KafkaAdapter = BrokerAdapter &
  ConnectionStateReporter &
  DeadLetterStore &
  HistoryReplay &
  GroupAdmin;

class KafkaBrokerAdapter implements KafkaAdapter {
  readonly name = 'kafka';
  readonly capabilities: AdapterCapabilities;
  private readonly options: ResolvedKafkaOptions;
  private readonly connection: KafkaConnection;
  private readonly log: AdapterLog;
  private readonly monitor: ConnectionMonitor;
  private readonly publisher: Publisher;
  private readonly topics: TopicManager;
  private readonly subscriptions = new Set<KafkaSubscription>();
  private readonly reader: LogReader;
  private readonly redrives: RedriveProducers;
  private readonly deadLetters: KafkaDeadLetters;
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: KafkaAdapterOptions) {
    this.options = resolveOptions(options);
    const { logger, logLevel, redactor } = this.options;
    this.log = createAdapterLog(logger, logLevel, redactor);
    this.connection = new KafkaConnection(this.options);
    this.monitor = this.connection.monitor;
    this.capabilities = Object.freeze({
      ...kafkaCapabilities,
      maxMessageBytes: this.options.maxMessageBytes,
    });
    this.publisher = new Publisher(this.connection, this.options, this.log);
    this.topics = new TopicManager(() => this.connection.admin(), this.options.topics, redactor);
    const admin = () => this.connection.admin();
    this.reader = new LogReader(this.connection.reader, redactor);
    this.redrives = new RedriveProducers(this.connection.producers, this.options.maxMessageBytes, redactor);
    this.deadLetters = new KafkaDeadLetters({
      admin,
      reader: this.reader,
      ledgers: new Ledgers(admin, this.reader, this.publisher, this.options.topics.replicationFactor),
      redrives: this.redrives,
      retryTopics: this.options.retryTopics,
    });
  }

  get state(): ConnectionState {
    return this.monitor.state;
  }

  /**
   * Calls `listener` on every change of {@link state}: `connecting`, `connected`, `reconnecting`
   * when a broker connection failed and the client is retrying, `connected` again once a broker
   * answered, `failed` when `connect` gave up, `closed`. The bus logs these.
   */
  onStateChange(listener: (state: ConnectionState, error?: Error) => void): () => void {
    return this.monitor.onStateChange(listener);
  }

  connect(): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('kafka adapter is closed'));
    // While reconnecting the clients exist and are at work: nothing to open.
    if (this.monitor.state === 'connected' || this.monitor.state === 'reconnecting') return Promise.resolve();
    this.connecting ??= (async () => {
      this.monitor.set('connecting');
      try {
        await this.publisher.connect();
        await this.connection.admin();
        this.monitor.set('connected');
      } catch (error) {
        this.monitor.set('failed', error);
        throw error;
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (this.closing !== undefined) throw new ClosedError('cannot publish: the kafka adapter is closed');
    // Before anything is sent: kafkajs would throw a bare TypeError (a number as a header value),
    // possibly after sending the records ahead of it in the batch.
    checkOutgoing(records, this.capabilities);
    if (records.length === 0) return;
    try {
      // The hot path: no extra await once connected.
      if (this.monitor.state !== 'connected') await this.connect();
      if (!this.topics.allReady(records)) await this.topics.ensure(records.map((record) => record.topic));
    } catch (error) {
      const topic = records[0]!.topic;
      const { redactor } = this.options;
      // The adapter's own errors say it best (a missing topic); a client's, its innermost cause.
      const why = error instanceof TidingsError ? error.message : describeKafkaError(error);
      throw new PublishError(redactor.text(`kafka: cannot publish to "${topic}": ${why}`), {
        topic,
        cause: redactor.error(error),
      });
    }
    await this.publisher.publish(records);
  }

  async subscribe(
    spec: SubscribeSpec,
    handler: RecordHandler,
    observer?: SettlementObserver,
  ): Promise<AdapterSubscription> {
    if (this.closing !== undefined) throw new ClosedError('cannot subscribe: the kafka adapter is closed');
    checkSubscribeSpec(spec, this.capabilities);
    checkRetryTopicNames(spec, this.options.retryTopics);
    if (typeof handler !== 'function') throw new ConfigError('handler', 'must be a function');
    if (this.monitor.state !== 'connected') await this.connect();
    const subscription = new KafkaSubscription(spec, handler, observer, {
      connection: this.connection,
      options: this.options,
      publisher: this.publisher,
      topics: this.topics,
      log: this.log,
      onClosed: (closed) => this.subscriptions.delete(closed),
    });
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      this.subscriptions.delete(subscription);
      throw error;
    }
    if (this.closing !== undefined) throw closedWhileStarting(spec.group);
    return subscription;
  }

  /**
   * Reads a page of dead letters with plain fetches (no consumer group: no position moves). Ids are
   * `<partition>:<offset>`; a page lists partition after partition, each in offset order, up to the
   * high watermarks of the moment it starts; removed letters (see the ledger) are skipped.
   */
  readDeadLetters(
    at: DeadLetterLocation,
    cursor: string | undefined,
    limit: number,
  ): Promise<DeadLetterPage> {
    return this.operate(() => this.deadLetters.read(at, cursor, limit));
  }

  /**
   * Publishes each letter to the failed group's first retry topic (only that group reads it), due at
   * once and at attempt 1. A group without retry topics (ordered subscriptions, `retryTopics:
   * false`) gets it on the original topic, on its key's partition, addressed to it by the
   * `tidings-redrive-group` header, which the other groups' subscriptions settle unhandled; refused
   * when the group has no committed offsets on the topic and no member assigned to it. The copies
   * and the ledger entries removing the letters are written in one transaction.
   */
  redriveDeadLetters(at: DeadLetterLocation, ids: readonly string[]): Promise<readonly RedriveOutcome[]> {
    return this.operate(() => this.deadLetters.redrive(at, ids));
  }

  /** Writes the named letters' removal to the ledger; the log start moves past a removed prefix. */
  deleteDeadLetters(at: DeadLetterLocation, ids: readonly string[]): Promise<number> {
    return this.operate(() => this.deadLetters.delete(at, ids));
  }

  /**
   * Moves `group`'s offsets of `topic` to the first record at or after `from.time`, or to
   * `from.position` (`<topic>/<partition>@<offset>`, that partition only). With no member, committed
   * as no member (the coordinator refuses it if one joins); while every member is a subscription of this adapter, through the members; a
   * member in another process makes it a `ConfigError` naming `group`.
   */
  replayHistory(topic: string, group: string, from: ReplayFrom): Promise<void> {
    return this.operate(() =>
      replayHistory(
        {
          admin: () => this.connection.admin(),
          subscriptions: () => this.subscriptions,
          reader: this.reader,
          redactor: this.options.redactor,
        },
        topic,
        group,
        from,
      ),
    );
  }

  /** The groups that committed offsets on each topic, with their lag, members and state. */
  describeGroups(topics: readonly string[]): Promise<readonly GroupDescription[]> {
    return this.operate(() => describeGroups(this.groupAdmin(), topics));
  }

  /**
   * Deletes the group and its retry topics of `topic`; refused (`ConfigError` naming `group`) while
   * it has members, or when it also reads other topics (Kafka deletes whole groups).
   */
  deleteGroup(topic: string, group: string): Promise<boolean> {
    return this.operate(() => deleteGroup(this.groupAdmin(), topic, group));
  }

  private groupAdmin(): GroupAdminDeps {
    return {
      admin: () => this.connection.admin(),
      retryTopics: this.options.retryTopics,
      redactor: this.options.redactor,
    };
  }

  private async operate<T>(run: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) throw new ClosedError('kafka adapter is closed');
    if (this.monitor.state !== 'connected') await this.connect();
    return run();
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subscriptions].map((subscription) => subscription.close(options)));
      await this.connecting?.catch(() => undefined);
      // Our own disconnects are not a lost connection.
      this.monitor.stop();
      await this.publisher.close();
      await this.redrives.close();
      await this.reader.close();
      await this.connection.closeAdmin();
      this.monitor.set('closed');
    })();
    return this.closing;
  }
}

/**
 * Creates the Kafka adapter, on the client `options.client` names (see {@link KafkaClientName}). It publishes through an idempotent producer (`acks: -1`)
 * and consumes with one consumer group per subscription, committing per partition the offset of the
 * lowest unsettled record. Unordered subscriptions retry through delay-tiered retry topics; ordered
 * ones retry in place. Dead letters go to the topic the core names, `<topic>.<group>.dlq` by default.
 *
 * @example
 * ```ts
 * import { createBus } from '@tidings/core';
 * import { createKafkaAdapter } from '@tidings/adapter-kafka';
 *
 * const bus = createBus({
 *   source: 'order-service',
 *   adapter: createKafkaAdapter({ brokers: ['127.0.0.1:9092'], producer: { compression: 'gzip' } }),
 * });
 * ```
 */
export function createKafkaAdapter(options: KafkaAdapterOptions): KafkaAdapter {
  return new KafkaBrokerAdapter(options);
}
