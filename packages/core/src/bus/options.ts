// The bus's public shape: its settings, a subscription's settings, its health report and its interface.
import type { BrokerAdapter, ConnectionState, OutgoingRecord, StartPosition } from '../adapters/contract';
import type { EventOf, Handler } from '../context/delivery';
import type { BatchEntry, PublishedEvent, PublishMiddleware, PublishOptions } from '../context/publish';
import type { AnyEventContract, EventInput } from '../contracts/define-event';
import type { Codec } from '../envelope/codec';
import type { IdempotencyStore } from '../idempotency/store';
import type { Logger } from '../logging/logger';
import type { Middleware } from '../middleware/types';
import type { DeadLetterTopicNamer } from '../policies/dead-letter';
import type { IdempotencyOptions } from '../policies/idempotency';
import type { RetryOptions } from '../policies/retry';
import type { TelemetryOptions } from '../tracing/options';
import type { BatchHandler, BatchOptions } from './batch';
import type { Subscription, SubscriptionHealth } from './subscription';

/** Names the topic of a contract. */
export type TopicNamer = (contract: AnyEventContract) => string;

/** Settings of a subscription. Defaults come from the bus's `subscriptionDefaults`. */
export interface SubscribeOptions {
  /** Consumer group: each group gets every event; the members of a group share them. */
  readonly group: string;
  /**
   * Consume from this topic instead of the contracts' own, e.g. a dead-letter topic:
   * `{ group: 'dlq-audit', topic: bus.deadLetterTopicOf(OrderPlaced, 'email') }`.
   */
  readonly topic?: string;
  /**
   * Most events handled at once by this subscription. Default 16: handlers usually share a
   * database pool, which more would only queue on.
   */
  readonly concurrency?: number;
  /**
   * Most events the adapter holds from the broker at once, handled or waiting for a handler (the
   * broker's prefetch): at least `concurrency`, or a `ConfigError`. Default 4 × `concurrency` (64
   * by default), so that a finished handler finds its next event already here rather than one
   * broker round trip away (on RabbitMQ, 16 handlers reach ~5,000 events/s with prefetch 16 and
   * ~13,700 with 64; 200 gains nothing more). Lower it when events are large or handlers slow and
   * other members of the group should get the backlog. Adapters whose broker has no prefetch
   * (core NATS, the in-memory adapter) ignore it.
   */
  readonly prefetch?: number;
  /**
   * `'key'`: events of one key are handled one at a time, in order (the default where the adapter
   * orders by key). `'none'`: any order, for the most throughput.
   */
  readonly ordering?: 'key' | 'none';
  /** Where a new consumer group starts: `'latest'` (default) or `'earliest'` retained event. */
  readonly startFrom?: StartPosition;
  /** Retry policy; `false` for a single attempt. Default: 5 attempts, 1 s doubling, 20 % jitter. */
  readonly retry?: RetryOptions | false;
  /** Handler timeout in milliseconds; `false` for none. Default 30,000. */
  readonly timeoutMs?: number | false;
  /** Skip messages already handled by this group. A store alone uses the default key and times. */
  readonly idempotency?: IdempotencyOptions | IdempotencyStore;
  /** Middleware around the handler, inside the built-in policies. */
  readonly middleware?: readonly Middleware[];
  /** What to do with a message of a type this subscription does not handle. Default `'deadLetter'`. */
  readonly unknownTypes?: 'deadLetter' | 'ack';
  /** Validate incoming data against the contract. Default true. */
  readonly validate?: boolean;
}

/**
 * Settings of a batch subscription ({@link Bus.subscribeBatch}): those of a subscription, with
 * `batch` in place of `concurrency` and `prefetch` (a whole batch runs at once, and the adapter
 * holds two batches' worth, so that the next one fills while the handler runs). `ordering` defaults to
 * `'none'` (the bus's `subscriptionDefaults.ordering` does not apply); `'key'`, where the adapter orders by key, puts at most one event of a key in a batch,
 * in order across batches. `timeoutMs` bounds the whole handler call.
 *
 * @example
 * ```ts
 * const options: BatchSubscribeOptions = {
 *   group: 'search-index',
 *   startFrom: 'earliest',
 *   batch: { maxSize: 500, maxWaitMs: 50 },
 * };
 * ```
 */
export interface BatchSubscribeOptions extends Omit<SubscribeOptions, 'concurrency' | 'prefetch'> {
  /** Batch size and wait. Default `{ maxSize: 100, maxWaitMs: 50 }`. */
  readonly batch?: BatchOptions;
}

/** Subscription settings that can be given once for the whole bus. */
export type SubscriptionDefaults = Omit<SubscribeOptions, 'group' | 'topic' | 'middleware' | 'idempotency'>;

/** Settings of {@link createBus}. */
export interface BusOptions {
  /** CloudEvents `source` of everything this bus publishes, e.g. `order-service`. */
  readonly source: string;
  /** The broker adapter. Default: an in-memory adapter of the bus's own. */
  readonly adapter?: BrokerAdapter;
  /** Codecs for event data; the first encodes what this bus publishes. Default `[jsonCodec]`. */
  readonly codecs?: readonly Codec[];
  /** Topic of a contract. Default: the contract's `topic`, else its `type`. */
  readonly topic?: TopicNamer;
  /** Dead-letter topic for a topic and group. Default `<topic>.<group>.dlq`. */
  readonly deadLetterTopic?: DeadLetterTopicNamer;
  /**
   * Middleware around every subscription's pipeline, outside the built-in policies: it sees the
   * final settlement. The place for tracing, metrics and logging.
   */
  readonly middleware?: readonly Middleware[];
  /** Middleware around every publish, for tracing, metrics or auditing. */
  readonly publishMiddleware?: readonly PublishMiddleware[];
  /** Defaults for every subscription. */
  readonly subscriptionDefaults?: SubscriptionDefaults;
  /** How long `stop()` waits for in-flight handlers, in milliseconds. Default 30,000. */
  readonly drainTimeoutMs?: number;
  /** Largest encoded body, in bytes. Default: the adapter's limit. */
  readonly maxMessageBytes?: number;
  /** Validate data against its contract before publishing. Default true. */
  readonly validateOnPublish?: boolean;
  /**
   * OpenTelemetry traces and metrics. Default: on, through the global providers, which record
   * nothing (and cost next to nothing) until an SDK is registered. `false` turns both off.
   */
  readonly telemetry?: TelemetryOptions | false;
  /**
   * Where the bus logs handler failures, retries, dead letters, connection changes and drain
   * timeouts, with the event's correlation fields. A pino logger or `console` fits. Default: silent.
   */
  readonly logger?: Logger;
}

/** The bus's readiness, for a health endpoint. */
export interface BusHealth {
  /** `up`: connected and every subscription running; `degraded`: some subscription is not; `down`: not connected. */
  readonly status: 'up' | 'degraded' | 'down';
  readonly adapter: { readonly name: string; readonly state: ConnectionState };
  readonly subscriptions: readonly SubscriptionHealth[];
}

/** The union of the events a handler receives for one contract or a list of them. */
export type EventsOf<TContracts> = TContracts extends readonly (infer TContract)[]
  ? TContract extends AnyEventContract
    ? EventOf<TContract>
    : never
  : TContracts extends AnyEventContract
    ? EventOf<TContracts>
    : never;

/**
 * The event bus: publishes typed events and runs subscriptions through the delivery policies.
 *
 * @example
 * ```ts
 * const bus = createBus({ source: 'order-service' });
 * bus.subscribe(OrderPlaced, { group: 'email' }, async (event) => {
 *   await mailer.sendConfirmation(event.data.orderId);
 * });
 * await bus.start();
 * await bus.publish(OrderPlaced, { orderId: 'o-1', total: 42, currency: 'EUR' });
 * await bus.stop();
 * ```
 */
export interface Bus {
  readonly adapter: BrokerAdapter;
  /** Connects to the broker and starts every subscription made so far. */
  start(): Promise<void>;
  /**
   * Stops every subscription (in-flight handlers finish, up to the drain timeout; nothing new
   * starts), then closes the adapter. Publishing fails with a `ClosedError` afterwards.
   *
   * Called by one of the bus's own handlers, it resolves once the other handlers are done: the
   * calling handler is not waited for (it could not finish before), its event is settled when it
   * returns, and the adapter closes after that. Node 24 recognises the calling handler anywhere;
   * Node 20 and 22 only before its first `await` (later, `void bus.stop()` without awaiting it).
   */
  stop(): Promise<void>;
  /**
   * Validates, encodes and publishes one event; resolves once the broker accepted it. Rejects with
   * a `ValidationError`, `MessageTooLargeError`, `PublishError` or `ClosedError`.
   */
  publish<TContract extends AnyEventContract>(
    contract: TContract,
    data: EventInput<TContract>,
    options?: PublishOptions,
  ): Promise<PublishedEvent>;
  /** Publishes several events in one call to the broker. Nothing is sent if any fails validation. */
  publishBatch(entries: readonly BatchEntry[]): Promise<PublishedEvent[]>;
  /**
   * Validates and encodes events into broker records without sending them: what an outbox stores.
   * Publish middleware runs, so trace context is captured at the time of the write.
   */
  prepare(
    entries: readonly BatchEntry[],
  ): Promise<{ readonly records: OutgoingRecord[]; readonly events: PublishedEvent[] }>;
  /**
   * Subscribes a handler to one contract, or to several (the handler then receives a union
   * discriminated by `event.type`). Before `start()`, the subscription begins with it; after, at once.
   */
  subscribe<const TContracts extends AnyEventContract | readonly AnyEventContract[]>(
    contracts: TContracts,
    options: SubscribeOptions,
    handler: Handler<EventsOf<TContracts>>,
  ): Subscription;
  /**
   * Subscribes a handler that receives events in batches: a non-empty array in broker order, of
   * at most `batch.maxSize` events, handed over when full or `batch.maxWaitMs` after its first
   * event. Each event is settled on its own: acknowledged, unless the handler fails it through
   * `batch.fail(event, error)` or throws (which fails every event it did not fail itself); a
   * failed event is retried or dead-lettered as in {@link subscribe}. Events that cannot be
   * decoded or validated never reach the handler and are dead-lettered one by one.
   *
   * @example
   * ```ts
   * bus.subscribeBatch(OrderPlaced, { group: 'analytics', batch: { maxSize: 500 } }, async (events, batch) => {
   *   const rejected = await warehouse.insertMany(events.map((event) => event.data));
   *   for (const index of rejected) batch.fail(events[index]!, new Error('row rejected'));
   * });
   * ```
   */
  subscribeBatch<const TContracts extends AnyEventContract | readonly AnyEventContract[]>(
    contracts: TContracts,
    options: BatchSubscribeOptions,
    handler: BatchHandler<EventsOf<TContracts>>,
  ): Subscription;
  /** The topic a contract is published to. */
  topicOf(contract: AnyEventContract): string;
  /** The dead-letter topic of a contract's topic for a consumer group. */
  deadLetterTopicOf(contract: AnyEventContract, group: string): string;
  /** Connection and subscription states, for a readiness probe. */
  health(): BusHealth;
}
