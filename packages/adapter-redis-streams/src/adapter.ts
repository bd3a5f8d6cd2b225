import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type AdapterCapabilities,
  type AdapterSubscription,
  ANY_TOPIC,
  type BrokerAdapter,
  ClosedError,
  type CloseOptions,
  ConfigError,
  ConnectionError,
  type ConnectionState,
  type ConnectionStateReporter,
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
  topicProblem,
} from '@tidings/core/adapter';
import type { RedisClient } from './connection';
import {
  checkServerVersion,
  connectionFailure,
  connectWithin,
  createConnection,
  isWrongType,
  watchStatus,
} from './connection';
import { StreamGroups } from './groups';
import { StreamOperations } from './operations';
import {
  claimIdleFor,
  type RedisStreamsAdapterOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options';
import { checkRecords, sendRecords } from './publisher';
import { Shards } from './shards';
import { StreamSubscription } from './subscription';
import { Trimmer } from './trimmer';

/**
 * The Redis Streams adapter: a {@link BrokerAdapter} with the names of its connections.
 *
 * @example
 * ```ts
 * const adapter = createRedisStreamsAdapter({ connection: 'redis://127.0.0.1:6379' });
 * console.log(adapter.connectionName); // e.g. "tidings:3f9c1a2b" — find it in CLIENT LIST
 * ```
 */
export interface RedisStreamsAdapter
  extends BrokerAdapter,
    ConnectionStateReporter,
    DeadLetterStore,
    HistoryReplay,
    GroupAdmin {
  readonly name: 'redis';
  /**
   * The name every connection of this adapter starts with in `CLIENT LIST`: `<clientName>:<id>`,
   * followed by `:cmd` for the command connection and `:read-<n>` for subscription readers.
   */
  readonly connectionName: string;
  /**
   * Trims one topic (all its shards) now with the adapter's `trim` settings (publishing does it by
   * itself, at most once per `trim.intervalMs`); resolves with how many entries were removed. A
   * topic that has no stream yet has nothing to trim: it resolves with 0. Rejects with a
   * `ConfigError` when the adapter has no `trim` settings, when the topic breaks the topic rule,
   * or when its key holds something else than a stream.
   *
   * @example
   * ```ts
   * const removed = await adapter.trim('order.placed');
   * ```
   */
  trim(topic: string): Promise<number>;
}

/**
 * What the Redis Streams adapter can do with its default options. An adapter's own
 * `capabilities` reflect its options (`durable`, `maxMessageBytes`, `retryPollIntervalMs`).
 *
 * @example
 * ```ts
 * if (!redisStreamsCapabilities.deduplication) console.log('use an idempotency store for exactly-once effects');
 * ```
 */
export const redisStreamsCapabilities: AdapterCapabilities = Object.freeze({
  ordering: 'key',
  durable: false,
  replay: true,
  redelivery: true,
  deliveryCount: true,
  delayedRetry: true,
  nativeDeadLetter: true,
  deduplication: false,
  maxMessageBytes: 1024 * 1024,
  delayToleranceMs: 500,
  headerPrefix: 'ce_',
  topicRule: ANY_TOPIC,
  operations: Object.freeze({ deadLetters: true, replay: true }),
});

// Beyond the poll interval: the claim script, the hand-over to the dispatcher, a busy event loop.
const DELAY_TOLERANCE_MARGIN_MS = 250;

class RedisStreamsAdapterImpl implements RedisStreamsAdapter {
  readonly name = 'redis';
  readonly capabilities: AdapterCapabilities;
  readonly connectionName: string;
  private readonly options: ResolvedOptions;
  private command: RedisClient | undefined;
  private connecting: Promise<void> | undefined;
  private connected = false;
  private connectFailed = false;
  private closing: Promise<void> | undefined;
  private closed = false;
  private trimmer: Trimmer | undefined;
  private operator: StreamOperations | undefined;
  private groups: StreamGroups | undefined;
  private readonly subscriptions = new Set<StreamSubscription>();
  private readers = 0;
  private readonly shards: Shards;
  private readonly stateListeners = new Set<(state: ConnectionState, error?: Error) => void>();
  /** The state the listeners were last told. */
  private reportedState: ConnectionState = 'idle';
  /** The last error of any of the adapter's connections, redacted: told with 'reconnecting' and 'failed'. */
  private connectionError: Error | undefined;

  constructor(options: RedisStreamsAdapterOptions) {
    this.options = resolveOptions(options);
    this.shards = new Shards(this.options.shards, this.options.cluster !== undefined);
    this.connectionName = `${this.options.clientName}:${randomBytes(4).toString('hex')}`;
    this.capabilities = Object.freeze({
      ...redisStreamsCapabilities,
      durable: this.options.durable,
      maxMessageBytes: this.options.maxMessageBytes,
      delayToleranceMs: this.options.retryPollIntervalMs + DELAY_TOLERANCE_MARGIN_MS,
    });
  }

  /**
   * The command connection's state, made worse by any running subscription's reader that is cut
   * off: a subscription that cannot read is an outage as much as a publish that cannot be sent.
   */
  get state(): ConnectionState {
    if (this.closed) return 'closed';
    const command = this.command;
    if (command === undefined) return this.connectFailed ? 'failed' : 'idle';
    if (!this.connected) return 'connecting';
    // 'end' means ioredis gave up reconnecting (its retryStrategy said stop).
    if (command.status === 'end') return 'failed';
    if (command.status !== 'ready') return 'reconnecting';
    for (const subscription of this.subscriptions) if (subscription.readerCutOff) return 'reconnecting';
    return 'connected';
  }

  onStateChange(listener: (state: ConnectionState, error?: Error) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /**
   * Tells the listeners when `state` has changed since they were last told. Called on every
   * ioredis status event of the adapter's connections; while closing, only the final 'closed'.
   */
  private reportState(): void {
    if (this.closing !== undefined && !this.closed) return;
    const state = this.state;
    if (state === this.reportedState) return;
    this.reportedState = state;
    // An error of an outage that is over says nothing about the next one.
    if (state === 'connected') this.connectionError = undefined;
    const error = state === 'reconnecting' || state === 'failed' ? this.connectionError : undefined;
    for (const listener of [...this.stateListeners]) {
      try {
        listener(state, error);
      } catch {
        // A listener's failure is its own: the other listeners and the connection go on.
      }
    }
  }

  /** Notes an error of one of the adapter's connections (a failed reconnection attempt). */
  private noteConnectionError(error: Error): void {
    this.connectionError = this.options.redact.error(error);
  }

  connect(): Promise<void> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('the Redis adapter is closed'));
    this.connecting ??= this.open().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const { redact } = this.options;
    const command = createConnection(this.options, `${this.connectionName}:cmd`, (error) =>
      this.noteConnectionError(error),
    );
    this.command = command;
    this.connectFailed = false;
    this.reportState();
    try {
      await connectWithin(command, this.options.connectTimeoutMs, 'command connection', redact);
      await checkServerVersion(command).catch((error: unknown) => {
        throw error instanceof TidingsError
          ? error
          : connectionFailure('cannot check the Redis server version', error, redact);
      });
      // Closed while connecting: the close may not have seen this connection.
      if (this.closing !== undefined) throw new Error('closed');
    } catch (error) {
      command.disconnect();
      this.command = undefined;
      if (this.closing !== undefined) {
        throw new ClosedError('the Redis adapter was closed while connecting', {
          cause: redact.error(error),
        });
      }
      this.connectFailed = true;
      this.connectionError = error instanceof Error ? error : redact.error(error);
      this.reportState();
      throw error;
    }
    if (this.options.trim !== undefined) {
      this.trimmer = new Trimmer(command, this.options.trim, () => undefined);
    }
    this.connected = true;
    watchStatus(command, () => this.reportState());
    this.reportState();
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (this.closing !== undefined) throw new ClosedError('cannot publish: the Redis adapter is closed');
    checkRecords(records, this.capabilities);
    if (records.length === 0) return;
    await this.connect();
    const streams = await sendRecords(this.command!, records, this.shards, this.options);
    if (this.trimmer !== undefined) for (const stream of streams) this.trimmer.published(stream);
  }

  async readDeadLetters(
    at: DeadLetterLocation,
    cursor: string | undefined,
    limit: number,
  ): Promise<DeadLetterPage> {
    return (await this.operations('read dead letters', at)).read(at, cursor, limit);
  }

  async redriveDeadLetters(
    at: DeadLetterLocation,
    ids: readonly string[],
  ): Promise<readonly RedriveOutcome[]> {
    return (await this.operations('redrive dead letters', at)).redrive(at, ids);
  }

  async deleteDeadLetters(at: DeadLetterLocation, ids: readonly string[]): Promise<number> {
    return (await this.operations('delete dead letters', at)).delete(at, ids);
  }

  async replayHistory(topic: string, group: string, from: ReplayFrom): Promise<void> {
    const operations = await this.operations('replay', { topic, deadLetterTopic: topic });
    await this.shards.check(this.command!, topic, this.options.redact);
    await operations.replay(topic, group, from);
  }

  async describeGroups(topics: readonly string[]): Promise<readonly GroupDescription[]> {
    return (await this.groupAdmin('describe groups', topics)).describe(topics);
  }

  async deleteGroup(topic: string, group: string): Promise<boolean> {
    return (await this.groupAdmin('delete a group', [topic])).delete(topic, group);
  }

  private async groupAdmin(what: string, topics: readonly string[]): Promise<StreamGroups> {
    if (this.closing !== undefined) throw new ClosedError(`cannot ${what}: the Redis adapter is closed`);
    for (const topic of topics) {
      const problem = topicProblem(this.capabilities.topicRule, topic);
      if (problem !== undefined) throw new ConfigError('topic', problem);
    }
    await this.connect();
    this.groups ??= new StreamGroups(this.command!, this.shards, this.options.blockMs, this.options.redact);
    return this.groups;
  }

  /** Checks the adapter is open and the topics follow the rule, connects, and hands over. */
  private async operations(
    what: string,
    at: Pick<DeadLetterLocation, 'topic' | 'deadLetterTopic'>,
  ): Promise<StreamOperations> {
    if (this.closing !== undefined) throw new ClosedError(`cannot ${what}: the Redis adapter is closed`);
    for (const topic of [at.topic, at.deadLetterTopic]) {
      const problem = topicProblem(this.capabilities.topicRule, topic);
      if (problem !== undefined) throw new ConfigError('topic', problem);
    }
    await this.connect();
    this.operator ??= new StreamOperations(
      this.command!,
      this.shards,
      `${this.capabilities.headerPrefix}id`,
      this.options.redact,
    );
    return this.operator;
  }

  async trim(topic: string): Promise<number> {
    if (this.closing !== undefined) throw new ClosedError('cannot trim: the Redis adapter is closed');
    if (this.options.trim === undefined) throw new ConfigError('trim', 'the adapter has no trim settings');
    const problem = topicProblem(this.capabilities.topicRule, topic);
    if (problem !== undefined) throw new ConfigError('topic', problem);
    await this.connect();
    let removed = 0;
    for (const stream of this.shards.streams(topic)) {
      try {
        removed += await this.trimmer!.trimNow(stream);
      } catch (error) {
        const { redact } = this.options;
        if (isWrongType(error)) {
          throw new ConfigError('topic', `"${stream}" is a Redis key that is not a stream`, {
            cause: redact.error(error),
          });
        }
        throw connectionFailure(`cannot trim "${stream}"`, error, redact);
      }
    }
    return removed;
  }

  async subscribe(
    spec: SubscribeSpec,
    handler: RecordHandler,
    observer?: SettlementObserver,
  ): Promise<AdapterSubscription> {
    if (this.closing !== undefined) throw new ClosedError('cannot subscribe: the Redis adapter is closed');
    checkSubscribeSpec(spec, this.capabilities);
    await this.connect();
    for (const topic of spec.topics) {
      await this.shards.check(this.command!, topic, this.options.redact).catch((error: unknown) => {
        // A refusal is a PublishError for publish; here it is a subscription that cannot start.
        if (!(error instanceof PublishError)) throw error;
        throw new ConnectionError(error.message, { cause: error.cause });
      });
    }
    if (this.closing !== undefined) throw new ClosedError('cannot subscribe: the Redis adapter is closed');
    const n = ++this.readers;
    let subscription: StreamSubscription | undefined;
    const reader = createConnection(
      this.options,
      `${this.connectionName}:read-${n}`,
      (error) => {
        this.noteConnectionError(error);
        subscription?.noteError(error);
      },
      'blocking reads',
    );
    subscription = new StreamSubscription({
      spec,
      handler,
      observer,
      options: this.options,
      topicRule: this.capabilities.topicRule,
      command: this.command!,
      reader,
      shards: this.shards,
      deadLetterStream: async (topic, key) => {
        await this.shards.check(this.command!, topic, this.options.redact);
        return this.shards.streamFor(topic, key);
      },
      consumer: `${hostname()}:${process.pid}:${this.connectionName}:${n}`,
      claimIdleMs: claimIdleFor(this.options, spec.handlerTimeoutMs),
      onClosed: () => {
        if (subscription !== undefined) this.subscriptions.delete(subscription);
        this.reportState();
      },
    });
    this.subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      this.subscriptions.delete(subscription);
      throw error instanceof TidingsError
        ? error
        : connectionFailure('cannot start the subscription', error, this.options.redact);
    }
    watchStatus(reader, () => this.reportState());
    return subscription;
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.subscriptions].map((subscription) => subscription.close(options)));
      await this.trimmer?.stop();
      const command = this.command;
      if (command !== undefined) {
        // QUIT waits for the replies before it; a connection that is down is simply dropped.
        if (command.status === 'ready') await command.quit().catch(() => command.disconnect());
        else command.disconnect();
      }
      this.closed = true;
      this.reportState();
    })();
    return this.closing;
  }
}

/**
 * Creates the Redis Streams adapter. Each topic is a stream of that name; each consumer group a
 * stream consumer group. Publishing is `XADD` (a batch in one `MULTI`); consuming is
 * `XREADGROUP` on a connection per subscription, `XACK` after the handler settled. A retry stays
 * pending in its group and is claimed back when due; a member that dies leaves its entries
 * pending, and another member claims them once idle. Ordered subscriptions read each stream from
 * one member at a time (a lease); `shards` spreads a topic over several streams by key so that
 * ordered work spreads over several members. See docs/adapters/redis-streams.md.
 *
 * @example
 * ```ts
 * import { createBus } from '@tidings/core';
 * import { createRedisStreamsAdapter } from '@tidings/adapter-redis-streams';
 *
 * const bus = createBus({
 *   source: 'order-service',
 *   adapter: createRedisStreamsAdapter({ connection: process.env.REDIS_URL, trim: { maxLength: 1_000_000 } }),
 * });
 * ```
 */
export function createRedisStreamsAdapter(options: RedisStreamsAdapterOptions = {}): RedisStreamsAdapter {
  return new RedisStreamsAdapterImpl(options);
}
