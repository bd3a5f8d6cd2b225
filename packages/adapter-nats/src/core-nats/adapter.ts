import {
  type AdapterCapabilities,
  type AdapterSubscription,
  type CloseOptions,
  type ConnectionState,
  type ConnectionStateReporter,
  checkSubscribeSpec,
  type DeadLetterSettlement,
  type IncomingRecord,
  type OutgoingRecord,
  PublishError,
  type RecordHandler,
  type SettlementObserver,
  type SubscribeSpec,
} from '@tidings/core/adapter';
import type { NatsConnection } from 'nats';
import type { NatsAdapter } from '../adapter';
import { Link, type StateListener } from '../connection';
import { deadLetterMessage, JETSTREAM_MAX_HEADER_BYTES } from '../dead-letters';
import { closedError, publishFailure } from '../errors';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  type NatsCoreAdapterOptions,
  type ResolvedNatsCoreOptions,
  resolveNatsCoreOptions,
} from '../options';
import { type OutgoingMessage, prepareMessages } from '../outgoing';
import { startSubscription } from '../start';
import { coreSubject, NATS_TOPIC_RULE } from '../subjects';
import { type CoreContext, CoreSubscription } from './subscription';

/**
 * What the core-NATS adapter can do: deliver to whoever listens now, at most once. Nothing is
 * stored, so nothing is replayed, redelivered or deduplicated; retries wait in the consuming
 * process.
 *
 * @example
 * ```ts
 * natsCoreCapabilities.redelivery; // false: a record its subscriber did not finish is gone
 * ```
 */
export const natsCoreCapabilities: AdapterCapabilities = Object.freeze({
  ordering: 'none',
  durable: false,
  replay: false,
  redelivery: false,
  deliveryCount: false,
  delayedRetry: true,
  nativeDeadLetter: false,
  deduplication: false,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  delayToleranceMs: 200,
  headerPrefix: 'ce-',
  contentTypeHeader: 'ce-datacontenttype',
  topicRule: NATS_TOPIC_RULE,
});

class NatsCoreAdapter implements NatsAdapter, ConnectionStateReporter {
  readonly name = 'nats-core';
  readonly capabilities: AdapterCapabilities;
  private readonly options: ResolvedNatsCoreOptions;
  private readonly link: Link;
  private shutdown: Promise<void> | undefined;
  private readonly subscriptions = new Set<CoreSubscription>();

  constructor(options: NatsCoreAdapterOptions) {
    this.options = resolveNatsCoreOptions(options);
    this.link = new Link(this.options, this.name);
    this.capabilities = Object.freeze({
      ...natsCoreCapabilities,
      maxMessageBytes: this.options.maxMessageBytes,
    });
  }

  get state(): ConnectionState {
    return this.link.state;
  }

  onStateChange(listener: StateListener): () => void {
    return this.link.onStateChange(listener);
  }

  /** Whether `close()` was called. */
  get closing(): boolean {
    return this.shutdown !== undefined;
  }

  get connection(): NatsConnection | undefined {
    return this.link.connection;
  }

  async connect(): Promise<void> {
    if (this.closing) throw closedError('connect', this.name);
    await this.link.open();
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    const nc = this.link.require('publish');
    await this.send(nc, records, 'publish');
  }

  private async send(nc: NatsConnection, records: readonly OutgoingRecord[], what: string): Promise<void> {
    const messages = prepareMessages(records, {
      capabilities: this.capabilities,
      maxPayloadBytes: nc.info?.max_payload ?? Number.MAX_SAFE_INTEGER,
      subjectOf: (record) => coreSubject(this.options.prefix, record.topic),
      redactor: this.options.redactor,
    });
    await this.sendMessages(nc, messages, what);
  }

  private async sendMessages(
    nc: NatsConnection,
    messages: readonly OutgoingMessage[],
    what: string,
  ): Promise<void> {
    await this.link.whenConnected(this.options.publishTimeoutMs);
    for (const message of messages) {
      try {
        nc.publish(message.subject, message.body, { headers: message.headers });
      } catch (error) {
        throw publishFailure(error, message.topic, what, this.options.redactor);
      }
    }
    // Core NATS has no publish ack: a round trip to the server is as far as "accepted" goes.
    await this.confirm(nc, messages[0]?.topic ?? '', what);
  }

  private async confirm(nc: NatsConnection, topic: string, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.options.publishTimeoutMs;
    try {
      await Promise.race([
        nc.flush(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new PublishError(
                  `${what} to topic "${topic}" was not confirmed by the server within ${timeoutMs} ms`,
                  { topic },
                ),
              ),
            timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      throw error instanceof PublishError ? error : publishFailure(error, topic, what, this.options.redactor);
    } finally {
      clearTimeout(timer);
    }
  }

  async subscribe(
    spec: SubscribeSpec,
    handler: RecordHandler,
    observer?: SettlementObserver,
  ): Promise<AdapterSubscription> {
    if (this.closing) throw closedError('subscribe', this.name);
    checkSubscribeSpec(spec, this.capabilities);
    const nc = this.link.require('subscribe');
    const context: CoreContext = {
      link: this.link,
      nc,
      prefix: this.options.prefix,
      maxBufferedRecords: this.options.maxBufferedRecords,
      confirm: () => this.confirm(nc, spec.topics[0] ?? '', 'subscribe'),
      publishDeadLetter: (record, settlement, minimal) =>
        this.publishDeadLetter(nc, record, settlement, minimal),
    };
    const subscription = new CoreSubscription(context, spec, handler, observer, (s) =>
      this.subscriptions.delete(s),
    );
    this.subscriptions.add(subscription);
    return startSubscription(subscription, spec.group, this);
  }

  /**
   * Publishes the dead letter of `record` and resolves with what was cut once the server has it.
   * It is fitted to the server's `max_payload` and to JetStream's 64 KiB of headers, so that a
   * stream capturing the dead-letter subject can store it too.
   */
  private async publishDeadLetter(
    nc: NatsConnection,
    record: IncomingRecord,
    settlement: DeadLetterSettlement,
    minimal: boolean,
  ): Promise<readonly ('body' | 'headers')[]> {
    const message = deadLetterMessage(record, settlement, {
      limits: {
        maxPayloadBytes: nc.info?.max_payload ?? Number.MAX_SAFE_INTEGER,
        maxHeaderBytes: JETSTREAM_MAX_HEADER_BYTES,
        addedHeaderBytes: 0,
      },
      subjectOf: (topic) => coreSubject(this.options.prefix, topic),
      minimal,
      redactor: this.options.redactor,
    });
    await this.sendMessages(nc, [message], 'dead letter');
    return message.reduced;
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.shutdown ??= (async () => {
      await Promise.all([...this.subscriptions].map((subscription) => subscription.close(options)));
      await this.link.close();
    })();
    return this.shutdown;
  }
}

/**
 * Creates the core-NATS adapter, for fire-and-forget notifications: no stream, no acks, no
 * persistence. A record reaches the subscriptions listening when it is published (each consumer
 * group through a queue group), at most once. Use {@link createNatsAdapter} for anything that must
 * not be lost.
 *
 * @example
 * ```ts
 * const bus = createBus({ source: 'presence', adapter: createNatsCoreAdapter({ servers: 'nats://127.0.0.1:4222' }) });
 * bus.subscribe(UserSeen, { group: 'dashboard' }, (event) => dashboard.mark(event.data.userId));
 * ```
 */
export function createNatsCoreAdapter(options: NatsCoreAdapterOptions = {}): NatsAdapter {
  return new NatsCoreAdapter(options);
}
