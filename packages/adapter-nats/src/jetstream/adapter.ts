import {
  type AdapterCapabilities,
  ConfigError,
  ConnectionError,
  type ConnectionState,
  type DeadLetterLocation,
  type DeadLetterPage,
  type DeadLetterStore,
  type GroupAdmin,
  type GroupDescription,
  type HistoryReplay,
  type OutgoingRecord,
  type RedriveOutcome,
  type ReplayFrom,
  topicProblem,
} from '@tidings/core/adapter';
import type { JetStreamManager, NatsConnection } from 'nats';
import { type NatsAdapter, NatsAdapterBase } from '../adapter';
import { connectionFailure } from '../errors';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  type NatsAdapterOptions,
  type ResolvedNatsOptions,
  resolveNatsOptions,
} from '../options';
import { NATS_TOPIC_RULE } from '../subjects';
import type { SubscriptionParts } from '../subscription';
import { JetStreamGroups } from './groups';
import { INTEREST_REPLAY, JetStreamOperations } from './operations';
import { JetStreamPublisher } from './publisher';
import { ensureStream } from './stream';
import { JetStreamSubscription } from './subscription';

/**
 * What the JetStream adapter can do (with the default file storage; `stream.storage: 'memory'`
 * makes it `durable: false`). An adapter's own `capabilities` also carry its `maxMessageBytes`.
 *
 * @example
 * ```ts
 * if (natsCapabilities.deduplication) console.log('re-publishing an event id within the window is safe');
 * ```
 */
export const natsCapabilities: AdapterCapabilities = Object.freeze({
  ordering: 'key',
  durable: true,
  replay: true,
  redelivery: true,
  deliveryCount: true,
  delayedRetry: true,
  nativeDeadLetter: true,
  deduplication: true,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  delayToleranceMs: 1_000,
  headerPrefix: 'ce-',
  contentTypeHeader: 'ce-datacontenttype',
  topicRule: NATS_TOPIC_RULE,
  operations: Object.freeze({ deadLetters: true, replay: true }),
});

/** What the adapter has once connected: the connection, its JetStream API, and the stream. */
interface Connected {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly partitions: number;
  readonly publisher: JetStreamPublisher;
  readonly operations: JetStreamOperations;
  readonly groups: JetStreamGroups;
}

class NatsJetStreamAdapterImpl extends NatsAdapterBase implements DeadLetterStore, HistoryReplay, GroupAdmin {
  private readonly options: ResolvedNatsOptions;
  private connected: Connected | undefined;

  constructor(options: NatsAdapterOptions) {
    const resolved = resolveNatsOptions(options);
    super('nats', resolved, {
      ...natsCapabilities,
      durable: resolved.stream.storage === 'file',
      operations: Object.freeze({
        deadLetters: true,
        replay: resolved.stream.retention === 'limits' ? true : INTEREST_REPLAY,
      }),
    });
    this.options = resolved;
  }

  override get state(): ConnectionState {
    // Connected to the server but without a usable stream is not connected for the core.
    if (this.connected === undefined && this.link.state === 'connected') {
      return this.connecting === undefined ? 'failed' : 'connecting';
    }
    return this.link.state;
  }

  get streamName(): string {
    return this.options.stream.name;
  }

  protected async open(): Promise<void> {
    const nc = await this.link.open();
    const timeout = this.options.publishTimeoutMs;
    const { redactor } = this.options;
    let jsm: JetStreamManager;
    try {
      jsm = await nc.jetstreamManager({ timeout });
    } catch (error) {
      throw connectionFailure(
        error,
        `JetStream is not available on ${nc.getServer()} (is the server started with -js?)`,
        redactor,
      );
    }
    const { partitions, maxMsgSize } = await ensureStream(jsm, this.options);
    const publisher = new JetStreamPublisher(this.link, this.options, this.capabilities, {
      js: nc.jetstream({ timeout }),
      partitions,
      maxMsgSize,
    });
    const scope = {
      jsm,
      stream: this.options.stream.name,
      prefix: this.options.prefix,
      partitions,
      redactor,
    };
    this.connected = {
      nc,
      jsm,
      partitions,
      publisher,
      operations: new JetStreamOperations({ ...scope, publisher }),
      groups: new JetStreamGroups(scope),
    };
  }

  private require(what: string): Connected {
    this.link.require(what);
    if (this.connected === undefined) {
      throw new ConnectionError(
        `cannot ${what} on the ${this.name} adapter: not connected; call connect() first`,
      );
    }
    return this.connected;
  }

  async readDeadLetters(
    at: DeadLetterLocation,
    cursor: string | undefined,
    limit: number,
  ): Promise<DeadLetterPage> {
    return (await this.operate('read dead letters', at.topic, at.deadLetterTopic)).operations.read(
      at,
      cursor,
      limit,
    );
  }

  async redriveDeadLetters(
    at: DeadLetterLocation,
    ids: readonly string[],
  ): Promise<readonly RedriveOutcome[]> {
    return (await this.operate('redrive dead letters', at.topic, at.deadLetterTopic)).operations.redrive(
      at,
      ids,
    );
  }

  async deleteDeadLetters(at: DeadLetterLocation, ids: readonly string[]): Promise<number> {
    return (await this.operate('delete dead letters', at.topic, at.deadLetterTopic)).operations.delete(
      at,
      ids,
    );
  }

  async replayHistory(topic: string, group: string, from: ReplayFrom): Promise<void> {
    await (await this.operate('replay', topic)).operations.replay(topic, group, from);
  }

  async describeGroups(topics: readonly string[]): Promise<readonly GroupDescription[]> {
    return (await this.operate('describe groups', ...topics)).groups.describe(topics);
  }

  async deleteGroup(topic: string, group: string): Promise<boolean> {
    const { operations, groups } = await this.operate('delete a group', topic);
    return groups.delete(topic, group, await operations.consumersOf(topic, group));
  }

  /** Checks the topics against the rule, connects when not yet, and hands over. */
  private async operate(what: string, ...topics: readonly string[]): Promise<Connected> {
    for (const topic of topics) {
      const problem = topicProblem(NATS_TOPIC_RULE, topic);
      if (problem !== undefined) throw new ConfigError('topic', problem);
    }
    await this.connect();
    return this.require(what);
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    await this.require('publish').publisher.publish(records);
  }

  protected createSubscription(parts: SubscriptionParts): JetStreamSubscription {
    const { nc, jsm, partitions, publisher } = this.require('subscribe');
    return new JetStreamSubscription(
      {
        link: this.link,
        nc,
        jsm,
        consumers: {
          stream: this.options.stream.name,
          prefix: this.options.prefix,
          partitions,
          ackWaitMs: this.options.ackWaitMs,
          extraDeliveries: this.options.extraDeliveries,
          maxAckPending: this.options.maxAckPending,
        },
        inboxPrefix: this.options.connectionOptions.inboxPrefix,
        flushTimeoutMs: this.options.publishTimeoutMs,
        publishDeadLetter: async (record, settlement, msgId, minimal) => {
          // The adapter may have closed meanwhile: that is a ClosedError, as for any publish.
          this.require('publish a dead letter');
          return publisher.publishDeadLetter(record, settlement, msgId, minimal);
        },
      },
      parts,
    );
  }
}

/**
 * Creates the NATS JetStream adapter: records are stored in a JetStream stream (made on first
 * connect, or an existing one) at `<prefix>.<topic>.<partition>`, consumer groups are durable pull
 * consumers, publishes wait for the stream's ack and carry the event id as `Nats-Msg-Id`,
 * retries are delayed naks, dead letters go to a topic in the same stream, and subscriptions
 * ordered by key read each partition one record at a time.
 *
 * @example
 * ```ts
 * import { createBus } from '@tidings/core';
 * import { createNatsAdapter } from '@tidings/adapter-nats';
 *
 * const bus = createBus({
 *   source: 'order-service',
 *   adapter: createNatsAdapter({ servers: 'nats://127.0.0.1:4222', stream: { maxAgeMs: 3 * 24 * 3600_000 } }),
 * });
 * ```
 */
export function createNatsAdapter(options: NatsAdapterOptions = {}): NatsJetStreamAdapter {
  return new NatsJetStreamAdapterImpl(options);
}

/**
 * The JetStream adapter: a {@link NatsAdapter} whose dead letters can be browsed, redriven and
 * purged, whose history can be replayed to one group, and whose groups can be listed and deleted
 * (the optional interfaces of `@tidings/core/adapter`, which `createOperator` uses).
 *
 * @example
 * ```ts
 * const adapter: NatsJetStreamAdapter = createNatsAdapter({ servers: 'nats://127.0.0.1:4222' });
 * const groups = await adapter.describeGroups(['order.placed']);
 * ```
 */
export interface NatsJetStreamAdapter extends NatsAdapter, DeadLetterStore, HistoryReplay, GroupAdmin {}
