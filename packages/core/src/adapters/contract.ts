/**
 * The broker adapter contract.
 *
 * An adapter moves records (bytes, string headers and a key) between the core and one broker, and
 * maps the settlement the core decides for each incoming record (ack, retry after a delay,
 * dead-letter) onto the broker's own mechanisms. It holds no schema, retry-count or routing
 * policy: those live once, in the core. Everything an adapter must promise is written on the
 * members below; the conformance suite (`@tidings/conformance`) checks those promises.
 *
 * @module
 */

/** Record headers: UTF-8 string names and values. Names are case-sensitive and kept as given. */
export type RecordHeaders = Readonly<Record<string, string>>;

/**
 * A record on its way to the broker.
 *
 * @example
 * ```ts
 * const record: OutgoingRecord = {
 *   topic: 'order.placed',
 *   key: 'order-42',
 *   headers: { ce_id: '0190b5d2-...', ce_type: 'order.placed' },
 *   body: new TextEncoder().encode('{"orderId":"order-42"}'),
 * };
 * ```
 */
export interface OutgoingRecord {
  /** Logical destination: a Kafka topic, a RabbitMQ routing key, a NATS subject suffix, a stream. */
  readonly topic: string;
  /**
   * Partition key. Records of one key are delivered in publish order by adapters that declare
   * `capabilities.ordering === 'key'`. `undefined` means no key: the adapter spreads the load.
   */
  readonly key: string | undefined;
  /** Headers, carried byte for byte. */
  readonly headers: RecordHeaders;
  /** The body, carried byte for byte; may be empty. */
  readonly body: Uint8Array;
}

/** A record delivered to a subscription. */
export interface IncomingRecord {
  readonly topic: string;
  readonly key: string | undefined;
  readonly headers: RecordHeaders;
  readonly body: Uint8Array;
  /**
   * Delivery attempt of this record for this consumer group, starting at 1. It must survive a
   * consumer crash: read it from the broker's delivery count, or from the `tidings-attempt`
   * header where the adapter re-publishes the record to retry it (see {@link RETRY_HEADERS}).
   */
  readonly attempt: number;
  /**
   * Where the record sits in the broker, for logs and dead-letter metadata: for example
   * `orders/2@1043` (Kafka topic/partition@offset) or `1719830400000-0` (a Redis stream id).
   */
  readonly position: string;
}

/** The core's verdict on one incoming record. */
export type Settlement = AckSettlement | RetrySettlement | DeadLetterSettlement;

/** The record is done with; the broker may forget it for this group. */
export interface AckSettlement {
  readonly type: 'ack';
}

/**
 * Deliver the record to this group again, no sooner than `delayMs` from now, with its attempt
 * count raised by one. Other records keep flowing meanwhile, except those that the subscription's
 * ordering guarantee requires to wait (records of the same key under `ordering: 'key'`).
 */
export interface RetrySettlement {
  readonly type: 'retry';
  /** Minimum delay before the next delivery, in milliseconds; 0 means as soon as possible. */
  readonly delayMs: number;
  /**
   * Headers the core wants on the redelivered record (the next attempt number, first failure
   * time). An adapter that re-publishes the record to retry it merges these over the record's
   * headers; an adapter that redelivers natively (and counts deliveries itself) may ignore them.
   */
  readonly headers: RecordHeaders;
}

/**
 * Move the record to the dead-letter topic and acknowledge it, so the group goes on. Publishing
 * the dead letter and acknowledging the original must be ordered so that a crash between the two
 * duplicates the record rather than losing it.
 *
 * A dead letter always lands: when the broker cannot take the full copy (too large, a header over
 * its limit), the adapter writes the reduced copy that `fitDeadLetter` (of `@tidings/core/adapter`)
 * makes, never retries an error the broker calls permanent, and never leaves the record to loop.
 */
export interface DeadLetterSettlement {
  readonly type: 'deadLetter';
  /** The topic to publish the dead letter to; the core names it (see `deadLetterTopic`). */
  readonly topic: string;
  /** Why the record failed, one line. Also present in `headers`. */
  readonly reason: string;
  /** Failure metadata (see {@link DEAD_LETTER_HEADERS}); merged over the record's own headers. */
  readonly headers: RecordHeaders;
}

/**
 * Where a dead letter landed, as the adapter reports it to
 * {@link SettlementObserver.deadLettered}.
 */
export interface LandedDeadLetter {
  /** The dead-letter topic it was written to. */
  readonly topic: string;
  /** The reason it carries (the settlement's). */
  readonly reason: string;
  /**
   * What had to be cut so that the broker would take it: `'body'` (dropped), `'headers'`
   * (oversized values cut). Empty when the full copy landed. See `fitDeadLetter` in
   * `@tidings/core/adapter`.
   */
  readonly reduced: readonly ('body' | 'headers')[];
}

/**
 * Told by the adapter what became of a settlement once it applied it (or could not), so that the
 * core reports what is true: a record is "dead-lettered" only once its dead letter is stored.
 * Pass the very record object the handler was given (the core finds the delivery's log fields by
 * it). For one settlement, `settlementFailed` may come first and `deadLettered` later, when a
 * retry of the write succeeds. The methods must not throw (the core's do not).
 */
export interface SettlementObserver {
  /**
   * The dead letter of `record` is stored by the broker and the original is (being) acknowledged.
   */
  deadLettered(record: IncomingRecord, landed: LandedDeadLetter): void;
  /**
   * A settlement could not be applied: the record stays with the broker and comes back (as its
   * ordering requires), or the adapter tries again later. `error` says why, credentials redacted.
   */
  settlementFailed(record: IncomingRecord, settlement: Settlement, error: Error): void;
}

/**
 * Which topic names an adapter accepts: the one rule it checks on publish and subscribe (and the
 * bus before it), stated in its docs.
 */
export interface TopicRule {
  /** A regular expression source that a whole topic name must match, e.g. `^[A-Za-z0-9._-]+$`. */
  readonly pattern: string;
  /** Longest name, in UTF-8 bytes. */
  readonly maxBytes: number;
  /** The rule in words, for errors and docs: `letters, digits, '.', '_' and '-'`. */
  readonly description: string;
}

/**
 * Called by the adapter for each record it delivers. It resolves with the settlement once the
 * core has finished with the record; it never rejects (the core catches everything). Should it
 * reject anyway, the adapter treats that as a retry with no delay.
 */
export type RecordHandler = (record: IncomingRecord) => Promise<Settlement>;

/** Where a consumer group that has no stored position starts reading. */
export type StartPosition = 'earliest' | 'latest';

/** What the core asks of a subscription. */
export interface SubscribeSpec {
  /**
   * Consumer group. Every group receives every record published to its topics after the group
   * exists (or from `startFrom`); the members of one group share them, each record going to one
   * member at a time.
   */
  readonly group: string;
  /** Topics to consume; at least one. */
  readonly topics: readonly string[];
  /**
   * Maximum number of records of this subscription whose handler promise is pending at once: the
   * adapter never has more `onRecord` calls unsettled, whatever it holds from the broker.
   */
  readonly concurrency: number;
  /**
   * How many records the adapter may hold from the broker at once, delivered to the handler or
   * waiting for a free slot: its broker prefetch (AMQP `basic.qos`, a JetStream pull batch, a
   * Kafka fetch buffer). At least `concurrency`, so that the next records are already here when a
   * handler finishes instead of one round trip away. Holding fewer is allowed (an adapter whose
   * broker has no prefetch ignores it); `concurrency` still bounds the pending `onRecord` calls.
   */
  readonly prefetch: number;
  /**
   * `'key'`: records with the same key are delivered one at a time, in publish order, the next
   * only after the previous one settled (a retry of a record holds back later records of its key).
   * Only valid when the adapter declares `capabilities.ordering === 'key'`.
   * `'none'`: any order.
   */
  readonly ordering: 'key' | 'none';
  /** Where a new group starts. Adapters without retained history treat both as `'latest'`. */
  readonly startFrom: StartPosition;
  /**
   * The most delivery attempts the core will allow before dead-lettering. Brokers that enforce a
   * delivery limit themselves (JetStream `max_deliver`) set theirs above it; others may ignore it.
   */
  readonly maxAttempts: number;
  /**
   * How long a handler may run before the core gives up on it, in milliseconds. Brokers with an
   * acknowledgement deadline (JetStream `ack_wait`, RabbitMQ consumer timeout) keep theirs above
   * it, or extend it while the handler runs.
   */
  readonly handlerTimeoutMs: number;
}

/** The state of a subscription, as reported to health checks. */
export type SubscriptionState = 'starting' | 'running' | 'paused' | 'reconnecting' | 'failed' | 'closed';

/** Options for {@link AdapterSubscription.close}. */
export interface CloseOptions {
  /**
   * When aborted, the adapter stops waiting for in-flight records: it leaves them unsettled (the
   * broker redelivers them later) and releases its resources at once.
   */
  readonly signal?: AbortSignal;
}

/** A live subscription returned by {@link BrokerAdapter.subscribe}. */
export interface AdapterSubscription {
  /** Current state. */
  readonly state: SubscriptionState;
  /** The last error the subscription met (a failed fetch, a lost connection), if any. */
  readonly lastError: Error | undefined;
  /**
   * Stop delivering new records until {@link resume}. Records already delivered go on and are
   * settled as usual. Idempotent.
   */
  pause(): void;
  /** Undo {@link pause}. Idempotent. */
  resume(): void;
  /**
   * Stop delivering new records, wait for every delivered record's handler promise, apply the
   * settlements, then release the broker resources of this subscription. Records not yet
   * delivered, and records left unsettled because `options.signal` aborted, stay with the broker
   * for the group's next member. Idempotent: later calls return the first call's promise.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** The adapter's connection state, as reported to health checks. */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed' | 'failed';

/**
 * Whether an adapter can do one operation: `true`, or the reason it cannot (shown by the
 * conformance suite when it skips the operation's scenarios, and in the docs).
 *
 * @example
 * ```ts
 * const replay: OperationSupport = 'an exchange keeps no history: a queue forgets what it delivered';
 * ```
 */
export type OperationSupport = true | string;

/**
 * What an adapter declares about its operations, in `capabilities.operations`.
 *
 * @example
 * ```ts
 * const operations: AdapterOperations = {
 *   deadLetters: true,
 *   replay: 'not implemented yet for this adapter',
 * };
 * ```
 */
export interface AdapterOperations {
  /** Browse, redrive and purge dead letters: the adapter implements `DeadLetterStore` (adapters/operations.ts). */
  readonly deadLetters: OperationSupport;
  /** Replay retained history to one group: the adapter implements `HistoryReplay` (adapters/operations.ts). */
  readonly replay: OperationSupport;
}

/**
 * What the adapter and its broker can do. The core checks options against these flags (an
 * ordered subscription on an adapter without key ordering is a configuration error) and the
 * conformance suite runs the scenarios they allow.
 */
export interface AdapterCapabilities {
  /**
   * `'key'`: records of one key are delivered to a group in publish order (per-key ordering).
   * `'none'`: no ordering promise.
   */
  readonly ordering: 'key' | 'none';
  /**
   * Records and group positions survive a restart of the broker and of the consuming process.
   * In-process brokers declare `false`. (Every adapter that redelivers must let a group that
   * closes and reopens on the same broker resume where it left off; that is not what this flag is
   * about.)
   */
  readonly durable: boolean;
  /** A new group can start from the retained history (`startFrom: 'earliest'`). */
  readonly replay: boolean;
  /**
   * A record settled with `retry`, or left unsettled when its subscriber closed, is delivered
   * again. Only at-most-once transports (core NATS) declare `false`.
   */
  readonly redelivery: boolean;
  /**
   * The broker counts deliveries, so a record that comes back because its consumer died unsettled
   * has a higher `attempt` (after a `retry` settlement the attempt rises with every adapter).
   */
  readonly deliveryCount: boolean;
  /**
   * `retry(delayMs)` is honoured by the broker (or by the adapter through the broker), without
   * holding back other records of the group beyond what ordering requires.
   */
  readonly delayedRetry: boolean;
  /** The broker keeps dead letters itself (a DLX, a DLQ topic or stream) rather than only this process. */
  readonly nativeDeadLetter: boolean;
  /** Publishing the same envelope id twice within the broker's window stores it once. */
  readonly deduplication: boolean;
  /** Largest record body the adapter accepts, in bytes. */
  readonly maxMessageBytes: number;
  /**
   * How late a delayed redelivery may arrive, in milliseconds beyond `delayMs`, on a healthy
   * broker. The conformance suite holds the adapter to it.
   */
  readonly delayToleranceMs: number;
  /**
   * How the CloudEvents binding of this broker names attributes in headers: Kafka `ce_`, AMQP
   * `cloudEvents:`, HTTP and NATS `ce-`. The core's envelope uses it in binary content mode.
   */
  readonly headerPrefix: string;
  /**
   * The header that carries `datacontenttype` in binary mode, when the broker's CloudEvents
   * binding names one other than `content-type` (the NATS binding uses `ce-datacontenttype`).
   * Default `content-type`.
   */
  readonly contentTypeHeader?: string;
  /** The topic names this adapter accepts. */
  readonly topicRule: TopicRule;
  /**
   * Which operations on dead letters and history the adapter implements (see
   * `DeadLetterStore` and `HistoryReplay`), or why it cannot. Absent: neither, with no reason given.
   */
  readonly operations?: AdapterOperations;
}

/**
 * A broker adapter. The core calls `connect` once before use and `close` once at the end; every
 * other method may be called concurrently from many async tasks.
 *
 * @example
 * ```ts
 * import { createBus } from '@tidings/core';
 * import { createKafkaAdapter } from '@tidings/adapter-kafka';
 *
 * const bus = createBus({ source: 'order-service', adapter: createKafkaAdapter({ brokers: ['127.0.0.1:9092'] }) });
 * ```
 */
export interface BrokerAdapter {
  /** Short name for logs and telemetry: `memory`, `kafka`, `rabbitmq`, `nats`, `redis`. */
  readonly name: string;
  /** What this adapter can do; constant for its lifetime. */
  readonly capabilities: AdapterCapabilities;
  /** Current connection state. */
  readonly state: ConnectionState;
  /**
   * Open the connection(s). Resolves once the adapter can publish; rejects with a
   * `ConnectionError` if the broker cannot be reached within the adapter's timeout. Calling it
   * again while connected is a no-op. After `close`, it rejects with a `ClosedError`.
   */
  connect(): Promise<void>;
  /**
   * Publish records. Resolves once the broker has durably accepted every record (as durable as the
   * broker is configured to be); rejects with a `PublishError` naming the first failure otherwise.
   * Records of one key are stored in array order, and in call order when the caller
   * awaits each call before making the next. A rejected call may have published some of its records (at-least-once). After
   * `close`, rejects with a `ClosedError`. A body larger than `maxMessageBytes` rejects with a
   * `MessageTooLargeError`, and a topic that `capabilities.topicRule` refuses with a
   * `PublishError`, before anything is sent. An error the broker says is permanent (too large,
   * not authorised, invalid) is not retried.
   */
  publish(records: readonly OutgoingRecord[]): Promise<void>;
  /**
   * Start consuming. Resolves once the subscription is registered with the broker (so that records
   * published after this promise resolves reach the group), then calls `handler` for each record,
   * never more than `spec.concurrency` at once (while holding up to `spec.prefetch` records from
   * the broker) and honouring `spec.ordering`. The adapter applies
   * each settlement when the handler's promise resolves, and tells `observer` what became of a
   * dead letter (stored, or not) and of any settlement it could not apply. A topic that
   * `capabilities.topicRule` refuses rejects with a `ConfigError`. After `close`, rejects with a
   * `ClosedError`.
   */
  subscribe(
    spec: SubscribeSpec,
    handler: RecordHandler,
    observer?: SettlementObserver,
  ): Promise<AdapterSubscription>;
  /**
   * Close every subscription (as {@link AdapterSubscription.close} does, with the same options),
   * then the connections. Afterwards `publish`, `subscribe` and `connect` reject with a
   * `ClosedError`. Idempotent and safe to call concurrently: every call returns the same promise.
   */
  close(options?: CloseOptions): Promise<void>;
}

/**
 * Headers the core reads and writes to carry retry state across redeliveries. Adapters that
 * retry by re-publishing a record keep them (the core puts them in `RetrySettlement.headers`).
 * Adapters whose broker counts deliveries combine the two: a re-published record starts the
 * broker's count again (add the header's attempt to it), and a record redelivered after a crash
 * has a count above the last header written (take the larger).
 */
export const RETRY_HEADERS = {
  /** The attempt number the redelivered record will be (decimal string). */
  attempt: 'tidings-attempt',
  /** ISO-8601 time of the first failed attempt. */
  firstFailureAt: 'tidings-first-failure-at',
} as const;

/** Headers the core puts on a dead letter, beside the original record's own headers. */
export const DEAD_LETTER_HEADERS = {
  reason: 'tidings-dlq-reason',
  errorName: 'tidings-dlq-error-name',
  errorMessage: 'tidings-dlq-error-message',
  attempts: 'tidings-dlq-attempts',
  originalTopic: 'tidings-dlq-original-topic',
  originalPosition: 'tidings-dlq-original-position',
  originalKey: 'tidings-dlq-original-key',
  group: 'tidings-dlq-group',
  firstFailureAt: 'tidings-dlq-first-failure-at',
  lastFailureAt: 'tidings-dlq-last-failure-at',
  /**
   * On a reduced dead letter only (see `fitDeadLetter` in `@tidings/core/adapter`): what was cut,
   * `body`, `headers` or `headers,body`.
   */
  reduced: 'tidings-dlq-reduced',
  /** On a dead letter whose body was dropped: the original body's size in bytes. */
  originalBodyBytes: 'tidings-dlq-original-body-bytes',
  /** On a dead letter whose body was dropped: the SHA-256 of the original body, hex. */
  originalBodySha256: 'tidings-dlq-original-body-sha256',
  /**
   * On a dead letter whose headers were cut: a JSON array of `{ name, bytes, sha256 }`, one entry
   * per header whose value was cut (`name` itself cut to 64 characters if it was longer, `bytes`
   * the original value's size, `sha256` its digest), at most 16 entries.
   */
  cutHeaders: 'tidings-dlq-cut-headers',
  /**
   * On a dead letter that still had too many header bytes once values were cut: how many of the
   * record's own headers were dropped (the largest first).
   */
  droppedHeaders: 'tidings-dlq-dropped-headers',
} as const;
