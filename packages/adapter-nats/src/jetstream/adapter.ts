import {
  type AdapterCapabilities,
  ConnectionError,
  type ConnectionState,
  type OutgoingRecord,
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
  operations: Object.freeze({
    deadLetters:
      "not implemented yet for NATS JetStream (planned: redrive to a subject only the group's consumer reads)",
    replay:
      "not implemented yet for NATS JetStream (planned: recreate the group's consumer at a start time or sequence)",
  }),
});

/** What the adapter has once connected: the connection, its JetStream API, and the stream. */
interface Connected {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly partitions: number;
  readonly publisher: JetStreamPublisher;
}

class NatsJetStreamAdapter extends NatsAdapterBase {
  private readonly options: ResolvedNatsOptions;
  private connected: Connected | undefined;

  constructor(options: NatsAdapterOptions) {
    const resolved = resolveNatsOptions(options);
    super('nats', resolved, {
      ...natsCapabilities,
      durable: resolved.stream.storage === 'file',
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
    this.connected = { nc, jsm, partitions, publisher };
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
export function createNatsAdapter(options: NatsAdapterOptions = {}): NatsAdapter {
  return new NatsJetStreamAdapter(options);
}
