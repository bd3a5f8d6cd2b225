import {
  type AdapterCapabilities,
  type AdapterSubscription,
  type CloseOptions,
  ConnectionError,
  type ConnectionState,
  type ConnectionStateReporter,
  checkSubscribeSpec,
  type DeadLetterSettlement,
  type IncomingRecord,
  type OutgoingRecord,
  type RecordHandler,
  type SettlementObserver,
  type SubscribeSpec,
} from '@tidings/core/adapter';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import type { NatsAdapter } from '../adapter';
import { headerLineBytes } from '../codec';
import { Link, type StateListener } from '../connection';
import { deadLetterMessage, JETSTREAM_MAX_HEADER_BYTES, type NatsLimits } from '../dead-letters';
import { closedError, connectionFailure, publishFailure } from '../errors';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  type NatsAdapterOptions,
  type ResolvedNatsOptions,
  resolveNatsOptions,
} from '../options';
import { type OutgoingMessage, prepareMessages, settleAll } from '../outgoing';
import { startSubscription } from '../start';
import { StateReporter } from '../state';
import { NATS_TOPIC_RULE, partitionOfKey, partitionSubject } from '../subjects';
import { ensureStream } from './stream';
import { type JetStreamContext, JetStreamSubscription } from './subscription';

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
});

const ID_HEADER = `${natsCapabilities.headerPrefix}id`;

interface Connected {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly partitions: number;
  /** The stream's `max_msg_size`, when it has one. */
  readonly maxMsgSize: number | undefined;
}

class NatsJetStreamAdapter implements NatsAdapter, ConnectionStateReporter {
  readonly name = 'nats';
  readonly capabilities: AdapterCapabilities;
  private readonly options: ResolvedNatsOptions;
  private readonly link: Link;
  private readonly reporter: StateReporter;
  private connected: Connected | undefined;
  private connecting: Promise<Connected> | undefined;
  private shutdown: Promise<void> | undefined;
  private readonly subscriptions = new Set<JetStreamSubscription>();
  private nextPartition = 0;
  /** `Nats-Expected-Stream: <stream>`, which nats.js adds to every publish. */
  private readonly expectHeaderBytes: number;

  constructor(options: NatsAdapterOptions) {
    this.options = resolveNatsOptions(options);
    this.link = new Link(this.options, this.name);
    this.reporter = new StateReporter(() => this.state);
    this.link.onStateChange((_state, error) => this.reporter.changed(error));
    this.capabilities = Object.freeze({
      ...natsCapabilities,
      durable: this.options.stream.storage === 'file',
      maxMessageBytes: this.options.maxMessageBytes,
    });
    this.expectHeaderBytes = headerLineBytes('Nats-Expected-Stream', this.options.stream.name);
  }

  onStateChange(listener: StateListener): () => void {
    return this.reporter.listen(listener);
  }

  get state(): ConnectionState {
    // Connected to the server but without a usable stream is not connected for the core.
    if (this.connected === undefined && this.link.state === 'connected') {
      return this.connecting === undefined ? 'failed' : 'connecting';
    }
    return this.link.state;
  }

  /** Whether `close()` was called. */
  get closing(): boolean {
    return this.shutdown !== undefined;
  }

  get connection(): NatsConnection | undefined {
    return this.link.connection;
  }

  get streamName(): string {
    return this.options.stream.name;
  }

  async connect(): Promise<void> {
    if (this.closing) throw closedError('connect', this.name);
    this.connecting ??= this.open().catch((error: unknown) => {
      this.connecting = undefined;
      this.reporter.changed(error as Error);
      throw error;
    });
    await this.connecting;
  }

  private async open(): Promise<Connected> {
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
    this.connected = { nc, js: nc.jetstream({ timeout }), jsm, partitions, maxMsgSize };
    this.reporter.changed();
    return this.connected;
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

  /**
   * What the server takes: its `max_payload` (headers and body; read from the server the client is
   * connected to now), the stream's `max_msg_size` when lower, and JetStream's 64 KiB of headers.
   */
  private limits(connected: Connected): NatsLimits {
    const maxPayload = this.link.connection?.info?.max_payload ?? Number.MAX_SAFE_INTEGER;
    return {
      maxPayloadBytes: Math.min(maxPayload, connected.maxMsgSize ?? Number.MAX_SAFE_INTEGER),
      maxHeaderBytes: JETSTREAM_MAX_HEADER_BYTES,
      addedHeaderBytes: this.expectHeaderBytes,
    };
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    const connected = this.require('publish');
    const { js, partitions } = connected;
    const limits = this.limits(connected);
    const messages = prepareMessages(records, {
      capabilities: this.capabilities,
      maxPayloadBytes: limits.maxPayloadBytes,
      maxHeaderBytes: limits.maxHeaderBytes,
      addedHeaderBytes: limits.addedHeaderBytes,
      redactor: this.options.redactor,
      subjectOf: (record) =>
        partitionSubject(this.options.prefix, record.topic, this.partitionOf(record.key, partitions)),
      msgIdOf: (record) => {
        const id = record.headers[ID_HEADER];
        // Per topic: one stream holds every topic, and one event may rightly go to two of them.
        return id === undefined || id === '' ? undefined : `${record.topic} ${id}`;
      },
    });
    await this.send(js, messages, 'publish');
  }

  private async send(js: JetStreamClient, messages: readonly OutgoingMessage[], what: string): Promise<void> {
    const streamName = this.options.stream.name;
    const timeout = this.options.publishTimeoutMs;
    await this.link.whenConnected(timeout);
    const dropped = this.link.whenDropped();
    await settleAll(
      messages.map((message) =>
        Promise.race([
          js.publish(message.subject, message.body, {
            headers: message.headers,
            timeout,
            expect: { streamName },
          }),
          dropped,
        ]),
      ),
      (error, index) => publishFailure(error, messages[index]!.topic, what, this.options.redactor),
    );
  }

  private partitionOf(key: string | undefined, partitions: number): number {
    if (key !== undefined) return partitionOfKey(key, partitions);
    // Records without a key spread over the partitions.
    this.nextPartition = (this.nextPartition + 1) % partitions;
    return this.nextPartition;
  }

  /**
   * Publishes the dead letter of `record`, fitted to the server's limits (`minimal`: as small as
   * it gets, after the server refused a copy for its size), and resolves with what was cut once
   * the stream has stored it.
   */
  private async publishDeadLetter(
    record: IncomingRecord,
    settlement: DeadLetterSettlement,
    msgId: string,
    minimal: boolean,
  ): Promise<readonly ('body' | 'headers')[]> {
    const connected = this.require('publish a dead letter');
    const { js, partitions } = connected;
    const message = deadLetterMessage(record, settlement, {
      limits: this.limits(connected),
      subjectOf: (topic, key) =>
        partitionSubject(this.options.prefix, topic, this.partitionOf(key, partitions)),
      msgId,
      minimal,
      redactor: this.options.redactor,
    });
    await this.send(js, [message], 'dead letter');
    return message.reduced;
  }

  async subscribe(
    spec: SubscribeSpec,
    handler: RecordHandler,
    observer?: SettlementObserver,
  ): Promise<AdapterSubscription> {
    if (this.closing) throw closedError('subscribe', this.name);
    checkSubscribeSpec(spec, this.capabilities);
    const { nc, jsm, partitions } = this.require('subscribe');
    const context: JetStreamContext = {
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
      publishDeadLetter: (record, settlement, msgId, minimal) =>
        this.publishDeadLetter(record, settlement, msgId, minimal),
    };
    const subscription = new JetStreamSubscription(context, spec, handler, observer, (s) =>
      this.subscriptions.delete(s),
    );
    this.subscriptions.add(subscription);
    return startSubscription(subscription, spec.group, this);
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.shutdown ??= (async () => {
      await this.connecting?.catch(() => undefined);
      await Promise.all([...this.subscriptions].map((subscription) => subscription.close(options)));
      await this.link.close();
      this.reporter.changed();
    })();
    return this.shutdown;
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
export function createNatsAdapter(options: NatsAdapterOptions = {}): NatsAdapter {
  return new NatsJetStreamAdapter(options);
}
