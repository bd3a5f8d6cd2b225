import type { AdapterCapabilities, OutgoingRecord } from '@tidings/core/adapter';
import { type NatsAdapter, NatsAdapterBase } from '../adapter';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  type NatsCoreAdapterOptions,
  type ResolvedNatsCoreOptions,
  resolveNatsCoreOptions,
} from '../options';
import { NATS_TOPIC_RULE } from '../subjects';
import type { SubscriptionParts } from '../subscription';
import { CorePublisher } from './publisher';
import { CoreSubscription } from './subscription';

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
  operations: Object.freeze({
    deadLetters: 'core NATS stores nothing: dead letters are only as durable as their readers',
    replay: 'core NATS retains no history',
  }),
});

class NatsCoreAdapter extends NatsAdapterBase {
  private readonly options: ResolvedNatsCoreOptions;
  private readonly publisher: CorePublisher;

  constructor(options: NatsCoreAdapterOptions) {
    const resolved = resolveNatsCoreOptions(options);
    super('nats-core', resolved, natsCoreCapabilities);
    this.options = resolved;
    this.publisher = new CorePublisher(this.link, resolved, this.capabilities);
  }

  protected async open(): Promise<void> {
    await this.link.open();
  }

  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    await this.publisher.publish(this.link.require('publish'), records);
  }

  protected createSubscription(parts: SubscriptionParts): CoreSubscription {
    const nc = this.link.require('subscribe');
    const { publisher } = this;
    return new CoreSubscription(
      {
        link: this.link,
        nc,
        prefix: this.options.prefix,
        maxBufferedRecords: this.options.maxBufferedRecords,
        confirm: () => publisher.confirm(nc, parts.spec.topics[0] ?? '', 'subscribe'),
        publishDeadLetter: (record, settlement, minimal) =>
          publisher.publishDeadLetter(nc, record, settlement, minimal),
      },
      parts,
    );
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
