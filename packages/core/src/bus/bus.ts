import type { BrokerAdapter, OutgoingRecord } from '../adapters/contract';
import { checkOptionNames, type OptionNames } from '../adapters/kit/option-names';
import { topicProblem } from '../adapters/kit/topic-rule';
import { createMemoryAdapter } from '../adapters/memory/adapter';
import type { DeliveryContext, Handler, MessageContext } from '../context/delivery';
import type {
  BatchEntry,
  EventDraft,
  PublishContext,
  PublishedEvent,
  PublishOptions,
} from '../context/publish';
import type { AnyEventContract } from '../contracts/define-event';
import type { ValidationOutcome } from '../contracts/schema';
import { isoAt } from '../envelope/clock';
import { type Codec, jsonCodec } from '../envelope/codec';
import { createEventEncoder } from '../envelope/encode';
import { uuidv7At } from '../envelope/uuid';
import { ClosedError, ConfigError, ValidationError } from '../errors';
import { checkInteger, definedOnly } from '../internal/options';
import { logConnectionStates } from '../logging/connection-events';
import { resolveLogger } from '../logging/logger';
import { compose, type Middleware } from '../middleware/types';
import { topicOfContract } from '../operations/application';
import { type DeadLetterTopicNamer, defaultDeadLetterTopic } from '../policies/dead-letter';
import { createDecoder } from '../policies/decode';
import { type FailurePolicy, lastResortVerdict } from '../policies/failure';
import { type IdempotencyOptions, idempotency } from '../policies/idempotency';
import { createPipeline } from '../policies/pipeline';
import { resolveRetryOptions } from '../policies/retry';
import { resolveTelemetryOptions, type TelemetryOptions } from '../tracing/options';
import { BusTelemetry } from '../tracing/telemetry';
import {
  BatchCollector,
  type BatchHandler,
  deliveriesOfBatch,
  type ResolvedBatchOptions,
  resolveBatchOptions,
} from './batch';
import { currentDelivery } from './delivery-scope';
import {
  checkExtensions,
  checkHeaders,
  checkHeaderValue,
  checkPublishOptions,
  checkTime,
} from './draft-checks';
import type {
  BatchSubscribeOptions,
  Bus,
  BusHealth,
  BusOptions,
  SubscribeOptions,
  SubscriptionDefaults,
  TopicNamer,
} from './options';
import { type Subscription, SubscriptionRuntime } from './subscription';

type BusState = 'created' | 'starting' | 'started' | 'stopping' | 'stopped';

const BUS_OPTION_NAMES: OptionNames<BusOptions> = {
  source: true,
  adapter: true,
  codecs: true,
  topic: true,
  deadLetterTopic: true,
  middleware: true,
  publishMiddleware: true,
  subscriptionDefaults: true,
  drainTimeoutMs: true,
  maxMessageBytes: true,
  validateOnPublish: true,
  telemetry: true,
  logger: true,
};

const SUBSCRIBE_OPTION_NAMES: OptionNames<SubscribeOptions> = {
  group: true,
  topic: true,
  concurrency: true,
  prefetch: true,
  ordering: true,
  startFrom: true,
  retry: true,
  timeoutMs: true,
  idempotency: true,
  middleware: true,
  unknownTypes: true,
  validate: true,
};

const { concurrency: _concurrency, prefetch: _prefetch, ...SHARED_OPTION_NAMES } = SUBSCRIBE_OPTION_NAMES;
// A batch subscription's concurrency and prefetch follow its batch size, so it takes neither.
const BATCH_SUBSCRIBE_OPTION_NAMES: OptionNames<BatchSubscribeOptions> = {
  ...SHARED_OPTION_NAMES,
  batch: true,
};

const DEFAULTS_OPTION_NAMES: OptionNames<SubscriptionDefaults> = {
  concurrency: true,
  prefetch: true,
  ordering: true,
  startFrom: true,
  retry: true,
  timeoutMs: true,
  unknownTypes: true,
  validate: true,
};

const TELEMETRY_OPTION_NAMES: OptionNames<TelemetryOptions> = {
  traces: true,
  metrics: true,
  tracerProvider: true,
  meterProvider: true,
};

const DEFAULT_CONCURRENCY = 16;
/**
 * The prefetch of a subscription that sets none, as a multiple of its concurrency: enough records
 * on hand that a finishing handler starts the next one without waiting a broker round trip.
 * Measured on RabbitMQ with 16 handlers: prefetch 16 ~5,000 msg/s, 64 ~13,700, 200 ~12,000.
 */
const DEFAULT_PREFETCH_FACTOR = 4;
/**
 * A batch subscription's prefetch, as a multiple of its batch size: the next batch arrives from
 * the broker while the handler runs the current one, instead of after it settled.
 */
const BATCH_PREFETCH_FACTOR = 2;
const DEFAULT_TIMEOUT_MS = 30_000;

class EventBus implements Bus {
  readonly adapter: BrokerAdapter;
  private readonly source: string;
  private readonly codec: Codec;
  private readonly codecs: ReadonlyMap<string, Codec>;
  private readonly topicNamer: TopicNamer;
  private readonly deadLetterTopic: DeadLetterTopicNamer;
  private readonly outerMiddleware: readonly Middleware[];
  private readonly publishChain: ((ctx: PublishContext) => Promise<void>) | undefined;
  private readonly prepareChain: (ctx: PublishContext) => Promise<void>;
  private readonly defaults: SubscriptionDefaults;
  private readonly drainTimeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly validateOnPublish: boolean;
  private readonly prefix: string;
  private readonly contentTypeHeader: string | undefined;
  private readonly encodeDraft: (draft: EventDraft, handOver?: boolean) => OutgoingRecord;
  private readonly telemetry: BusTelemetry;
  private readonly runtimes = new Set<SubscriptionRuntime>();
  private state: BusState = 'created';
  private connecting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Handlers that called `stop()` and wait for it: the drain they wait on goes on without them. */
  private readonly waitingOnStop = new Set<DeliveryContext>();
  private unwatchConnection: (() => void) | undefined;

  constructor(options: BusOptions) {
    checkOptionNames(options, BUS_OPTION_NAMES);
    checkOptionNames(options.subscriptionDefaults, DEFAULTS_OPTION_NAMES, 'subscriptionDefaults');
    if (typeof options.telemetry === 'object')
      checkOptionNames(options.telemetry, TELEMETRY_OPTION_NAMES, 'telemetry');
    if (typeof options.source !== 'string' || options.source.length === 0) {
      throw new ConfigError('source', 'a non-empty CloudEvents source is required, e.g. "order-service"');
    }
    if (/\p{Cc}/u.test(options.source)) {
      throw new ConfigError('source', 'must not contain control characters (it travels as a header)');
    }
    this.source = options.source;
    this.adapter = options.adapter ?? createMemoryAdapter();
    const codecs = options.codecs ?? [jsonCodec];
    if (codecs.length === 0) throw new ConfigError('codecs', 'at least one codec is required');
    this.codec = codecs[0]!;
    this.codecs = new Map(codecs.map((codec) => [codec.contentType.toLowerCase(), codec]));
    this.topicNamer = options.topic ?? ((contract) => topicOfContract({}, contract));
    this.deadLetterTopic = options.deadLetterTopic ?? defaultDeadLetterTopic;
    if (typeof this.deadLetterTopic !== 'function')
      throw new ConfigError('deadLetterTopic', 'must be a function');
    this.outerMiddleware = options.middleware ?? [];
    const publishMiddleware = options.publishMiddleware ?? [];
    this.publishChain =
      publishMiddleware.length === 0 ? undefined : compose(publishMiddleware, (ctx) => this.sendRecords(ctx));
    this.prepareChain = compose(publishMiddleware, async (ctx) => {
      ctx.records = this.encode(ctx.drafts, false);
    });
    this.defaults = options.subscriptionDefaults ?? {};
    this.drainTimeoutMs = checkInteger('drainTimeoutMs', options.drainTimeoutMs ?? 30_000, 0);
    const adapterLimit = this.adapter.capabilities.maxMessageBytes;
    this.maxMessageBytes = checkInteger(
      'maxMessageBytes',
      options.maxMessageBytes ?? adapterLimit,
      1,
      adapterLimit,
    );
    this.validateOnPublish = options.validateOnPublish ?? true;
    this.prefix = this.adapter.capabilities.headerPrefix;
    this.contentTypeHeader = this.adapter.capabilities.contentTypeHeader;
    this.encodeDraft = createEventEncoder({
      prefix: this.prefix,
      codec: this.codec,
      contentTypeHeader: this.contentTypeHeader,
      maxMessageBytes: this.maxMessageBytes,
    });
    this.telemetry = new BusTelemetry(
      resolveTelemetryOptions(options.telemetry),
      this.adapter,
      resolveLogger(options.logger),
      () => this.runtimes,
    );
    // Fail at construction, not at the first subscribe, on bad defaults.
    resolveRetryOptions(this.defaults.retry, 'subscriptionDefaults.retry');
    resolveFlow(this.defaults, 'subscriptionDefaults.');
  }

  topicOf(contract: AnyEventContract): string {
    return this.topicNamer(contract);
  }

  deadLetterTopicOf(contract: AnyEventContract, group: string): string {
    return this.deadLetterTopic(this.topicNamer(contract), group);
  }

  async start(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped')
      throw new ClosedError('cannot start a stopped bus');
    this.state = 'starting';
    this.telemetry.refresh();
    const { logger } = this.telemetry;
    const adapter = this.adapter.name;
    this.unwatchConnection ??= logConnectionStates(this.adapter, adapter, logger);
    try {
      await this.connect();
    } catch (error) {
      logger.log('error', { adapter, err: error }, `could not connect to ${adapter}`);
      throw error;
    }
    const runtimes = [...this.runtimes];
    await Promise.all(runtimes.map((runtime) => runtime.start(this.adapter)));
    this.state = 'started';
    logger.log('info', { adapter, subscriptions: runtimes.length }, `bus started on ${adapter}`);
  }

  stop(): Promise<void> {
    const caller = currentDelivery();
    const runtimes = [...this.runtimes];
    this.stopping ??= (async () => {
      this.state = 'stopping';
      await Promise.all(runtimes.map((runtime) => runtime.stop()));
      await this.adapter.close();
      this.unwatchConnection?.();
      this.telemetry.close();
      this.state = 'stopped';
      this.telemetry.logger.log('info', { adapter: this.adapter.name }, 'bus stopped');
    })();
    if (caller === undefined || !caller.deliveredBy(this)) return this.stopping;
    // Called by one of this bus's handlers, which cannot finish before this resolves: the drain
    // would wait for it until the drain timeout. Resolve once the other handlers are done (or
    // the drain time is up); the caller's own event is settled when it returns, then the adapter
    // closes and the stop completes.
    for (const delivery of deliveriesOfBatch(caller)) this.waitingOnStop.add(delivery);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.drainTimeoutMs);
      timer.unref?.();
    });
    const othersDone = Promise.all(runtimes.map((runtime) => runtime.othersFinished(this.waitingOnStop)));
    return Promise.race([othersDone.then(() => undefined), timeUp, this.stopping]).finally(() =>
      clearTimeout(timer),
    );
  }

  private connect(): Promise<void> {
    if (this.connecting === undefined) {
      this.connecting = this.adapter.connect();
      // Let a later call try again after a failed connection.
      this.connecting.catch(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  publish(contract: AnyEventContract, data: unknown, options?: PublishOptions): Promise<PublishedEvent> {
    // Written without async/await: this is the hot path, and each await costs a microtask.
    let draft: EventDraft | Promise<EventDraft>;
    try {
      draft = this.draft(contract, data, options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (draft instanceof Promise)
      return draft.then((ready) => this.send([ready]).then(() => publishedOf(ready)));
    const ready = draft;
    return this.send([draft]).then(() => publishedOf(ready));
  }

  async publishBatch(entries: readonly BatchEntry[]): Promise<PublishedEvent[]> {
    if (entries.length === 0) return [];
    const drafts = await Promise.all(
      entries.map((entry) => this.draft(entry.contract, entry.data, entry.options)),
    );
    await this.send(drafts);
    return drafts.map(publishedOf);
  }

  async prepare(
    entries: readonly BatchEntry[],
  ): Promise<{ records: OutgoingRecord[]; events: PublishedEvent[] }> {
    const drafts = await Promise.all(
      entries.map((entry) => this.draft(entry.contract, entry.data, entry.options)),
    );
    const ctx: PublishContext = { mode: 'prepare', drafts, records: undefined };
    await this.telemetry.prepare(ctx, this.prepareChain);
    return { records: [...(ctx.records ?? [])], events: drafts.map(publishedOf) };
  }

  /**
   * The one road to the broker: drafts are encoded and handed to the adapter, through the publish
   * middleware and telemetry when there are any. With neither, nothing but the encoding stands
   * between the caller and the adapter (no context object, no promise hop), and the records are
   * handed over to it (see `HandedOverRecord`).
   */
  private send(drafts: EventDraft[]): Promise<void> {
    if (this.state === 'stopped')
      return Promise.reject(new ClosedError('cannot publish: the bus is stopped'));
    if (this.adapter.state !== 'connected') return this.connect().then(() => this.send(drafts));
    try {
      if (this.publishChain === undefined && !this.telemetry.observesPublish) {
        return this.adapter.publish(this.encode(drafts, true));
      }
      const ctx: PublishContext = { mode: 'publish', drafts, records: undefined };
      return this.telemetry.publish(ctx, this.runPublish);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private readonly runPublish = (ctx: PublishContext): Promise<void> =>
    this.publishChain === undefined ? this.sendRecords(ctx) : this.publishChain(ctx);

  private sendRecords(ctx: PublishContext): Promise<void> {
    const records = this.encode(ctx.drafts, false);
    ctx.records = records;
    return this.adapter.publish(records);
  }

  private encode(drafts: readonly EventDraft[], handOver: boolean): OutgoingRecord[] {
    const records: OutgoingRecord[] = new Array(drafts.length);
    for (let i = 0; i < drafts.length; i++) records[i] = this.encodeDraft(drafts[i]!, handOver);
    return records;
  }

  private draft(
    contract: AnyEventContract,
    data: unknown,
    options: PublishOptions = NO_OPTIONS,
  ): EventDraft | Promise<EventDraft> {
    if (!this.validateOnPublish) return this.buildDraft(contract, data, data, options);
    const outcome = contract.validate(data);
    if (outcome instanceof Promise)
      return outcome.then((resolved) => this.checkedDraft(contract, data, resolved, options));
    return this.checkedDraft(contract, data, outcome, options);
  }

  private checkedDraft(
    contract: AnyEventContract,
    data: unknown,
    outcome: ValidationOutcome,
    options: PublishOptions,
  ): EventDraft {
    if (outcome.issues !== undefined) throw new ValidationError(contract.type, outcome.issues);
    return this.buildDraft(contract, data, outcome.value, options);
  }

  // The wire carries the data as given (the schema's input form), so that the consumer's parse of
  // it gives the same output; key and subject functions see the parsed output.
  private buildDraft(
    contract: AnyEventContract,
    data: unknown,
    parsed: unknown,
    options: PublishOptions,
  ): EventDraft {
    const type = contract.type;
    if (options !== NO_OPTIONS) checkPublishOptions(type, options);
    const topic = options.topic ?? this.topicNamer(contract);
    const problem = topicProblem(this.adapter.capabilities.topicRule, topic);
    if (problem !== undefined) {
      throw new ValidationError(type, [{ path: [], message: `${problem} (${this.adapter.name})` }], {
        field: 'topic',
      });
    }
    let key = options.key;
    if (key === undefined && contract.key !== undefined) {
      key = contract.key(parsed);
      if (key !== undefined) checkHeaderValue(type, 'key', key);
    }
    let subject = options.subject;
    if (subject === undefined && contract.subject !== undefined) {
      subject = contract.subject(parsed);
      if (subject !== undefined) checkHeaderValue(type, 'subject', subject);
    }
    // One clock reading for the id and the time: each costs ~0.1 µs, a few % of an event.
    const now = options.id === undefined || options.time === undefined ? Date.now() : 0;
    return {
      contract,
      topic,
      id: options.id ?? uuidv7At(now),
      source: this.source,
      type,
      time: options.time === undefined ? isoAt(now) : checkTime(type, options.time),
      subject,
      key,
      version: contract.version,
      correlationId: options.correlationId,
      causationId: options.causationId,
      traceparent: options.traceparent,
      tracestate: options.tracestate,
      dataschema: contract.dataschema,
      extensions: options.extensions === undefined ? undefined : checkExtensions(type, options.extensions),
      headers: options.headers === undefined ? undefined : checkHeaders(type, options.headers),
      data,
    };
  }

  subscribe(
    contracts: AnyEventContract | readonly AnyEventContract[],
    options: SubscribeOptions,
    // biome-ignore lint/suspicious/noExplicitAny: the public overload types the handler; here it is erased.
    handler: Handler<any>,
  ): Subscription {
    if (this.state === 'stopping' || this.state === 'stopped') {
      throw new ClosedError('cannot subscribe: the bus is stopped');
    }
    checkOptionNames(options, SUBSCRIBE_OPTION_NAMES);
    return this.addRuntime(contracts, options, handler, undefined);
  }

  subscribeBatch(
    contracts: AnyEventContract | readonly AnyEventContract[],
    options: BatchSubscribeOptions,
    // biome-ignore lint/suspicious/noExplicitAny: the public overload types the handler; here it is erased.
    handler: BatchHandler<any>,
  ): Subscription {
    if (this.state === 'stopping' || this.state === 'stopped') {
      throw new ClosedError('cannot subscribe: the bus is stopped');
    }
    checkOptionNames(options, BATCH_SUBSCRIBE_OPTION_NAMES);
    if (typeof handler !== 'function') throw new ConfigError('handler', 'the handler must be a function');
    const { batch, ...rest } = options;
    return this.addRuntime(contracts, rest, handler, resolveBatchOptions(batch));
  }

  private addRuntime(
    contracts: AnyEventContract | readonly AnyEventContract[],
    options: SubscribeOptions,
    // biome-ignore lint/suspicious/noExplicitAny: see subscribe.
    handler: Handler<any> | BatchHandler<any>,
    batch: ResolvedBatchOptions | undefined,
  ): Subscription {
    const list: readonly AnyEventContract[] = Array.isArray(contracts)
      ? contracts
      : [contracts as AnyEventContract];
    const runtime = this.buildRuntime(list, options, handler, batch);
    this.runtimes.add(runtime);
    if (this.state === 'started' || this.state === 'starting') {
      runtime.start(this.adapter).catch(() => undefined);
    }
    return runtime;
  }

  private buildRuntime(
    contracts: readonly AnyEventContract[],
    options: SubscribeOptions,
    // biome-ignore lint/suspicious/noExplicitAny: see subscribe.
    handler: Handler<any> | BatchHandler<any>,
    batch: ResolvedBatchOptions | undefined,
  ): SubscriptionRuntime {
    if (typeof options?.group !== 'string' || options.group.length === 0) {
      throw new ConfigError('group', 'a subscription needs a non-empty consumer group');
    }
    if (contracts.length === 0) throw new ConfigError('contracts', 'subscribe to at least one contract');
    if (typeof handler !== 'function') throw new ConfigError('handler', 'the handler must be a function');
    const settings = { ...this.defaults, ...definedOnly(options) };
    const { group } = options;
    const capabilities = this.adapter.capabilities;

    const byType = new Map<string, AnyEventContract>();
    const topics: string[] = [];
    for (const contract of contracts) {
      const existing = byType.get(contract.type);
      if (existing !== undefined && existing !== contract) {
        throw new ConfigError('contracts', `two contracts for the event type "${contract.type}"`);
      }
      byType.set(contract.type, contract);
      const topic = options.topic ?? this.topicNamer(contract);
      if (!topics.includes(topic)) topics.push(topic);
    }
    const rule = capabilities.topicRule;
    for (const topic of topics) {
      const problem = topicProblem(rule, topic);
      if (problem !== undefined) throw new ConfigError('topic', `${problem} (${this.adapter.name})`);
      const deadLetters = this.deadLetterTopic(topic, group);
      const dlqProblem = topicProblem(rule, deadLetters);
      if (dlqProblem !== undefined) {
        throw new ConfigError('deadLetterTopic', `${dlqProblem} (${this.adapter.name}; group "${group}")`);
      }
    }

    // A batch subscription serves throughput: any order unless it asks for per-key order.
    const ordering =
      batch === undefined ? (settings.ordering ?? capabilities.ordering) : (options.ordering ?? 'none');
    if (ordering === 'key' && capabilities.ordering !== 'key') {
      throw new ConfigError(
        'ordering',
        `the ${this.adapter.name} adapter does not order by key; use ordering: 'none'`,
      );
    }
    // A batch subscription runs a whole batch at once, and holds a second one, so that the
    // adapter's fetch (Kafka fetch, XREADGROUP COUNT, JetStream pull batch, AMQP prefetch) fills
    // the next batch while the handler runs this one.
    const { concurrency, prefetch } =
      batch === undefined
        ? resolveFlow(settings)
        : { concurrency: batch.maxSize, prefetch: BATCH_PREFETCH_FACTOR * batch.maxSize };
    const retryOptions = resolveRetryOptions(settings.retry);
    const timeoutMs = settings.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (timeoutMs !== false) checkInteger('timeoutMs', timeoutMs, 1);
    const startFrom = settings.startFrom ?? 'latest';
    if (startFrom !== 'earliest' && startFrom !== 'latest') {
      throw new ConfigError('startFrom', `must be 'earliest' or 'latest', got ${String(startFrom)}`);
    }
    const unknownTypes = settings.unknownTypes ?? 'deadLetter';
    // A batch replaces the handler with its collector; the timeout then bounds the whole batch
    // call (the collector's), not each event's wait for its batch.
    // The fixed frame of the pipeline; see docs/concepts.md for why it is in this order.
    const inner: Middleware[] = [];
    if (options.idempotency !== undefined) {
      const idempotencyOptions: IdempotencyOptions =
        'claim' in options.idempotency ? { store: options.idempotency } : options.idempotency;
      inner.push(idempotency(idempotencyOptions));
    }
    inner.push(...(options.middleware ?? []));
    const failure: FailurePolicy = { retry: retryOptions, deadLetterTopic: this.deadLetterTopic };
    // With nothing between the failure decision and the handler, the collector may set a failed
    // event's outcome itself, by the same decision the pipeline would make when the event's
    // promise rejected; then a batch's events share one promise.
    const decide =
      inner.length === 0
        ? (ctx: MessageContext, error: unknown): void => {
            const verdict = lastResortVerdict(ctx, error, failure);
            ctx.error = verdict.error;
            ctx.settlement = verdict.settlement;
          }
        : undefined;
    const collector =
      batch === undefined
        ? undefined
        : new BatchCollector({ ...batch, group, timeoutMs, handler: handler as BatchHandler, decide });
    const run = createPipeline({
      outer: this.outerMiddleware,
      retry: retryOptions,
      deadLetterTopic: this.deadLetterTopic,
      decode: createDecoder({
        contracts: byType,
        prefix: this.prefix,
        contentTypeHeader: this.contentTypeHeader,
        codecs: this.codecs,
        defaultCodec: this.codec,
        maxMessageBytes: this.maxMessageBytes,
        unknownTypes,
        validate: settings.validate ?? true,
      }),
      timeoutMs: collector === undefined ? timeoutMs : false,
      inner,
      handler: collector === undefined ? (handler as Handler) : collector.join,
    });
    // An event of a batch may wait up to maxWaitMs for its batch before the handler starts.
    const handlerTimeoutMs = timeoutMs === false ? 0 : timeoutMs + (batch?.maxWaitMs ?? 0);

    return new SubscriptionRuntime(
      {
        group,
        topics,
        concurrency,
        prefetch,
        ordering,
        startFrom,
        maxAttempts: retryOptions.maxAttempts,
        handlerTimeoutMs,
      },
      contracts,
      run,
      {
        publisher: this,
        drainTimeoutMs: this.drainTimeoutMs,
        failure,
        telemetry: this.telemetry,
        onStopped: (runtime) => this.runtimes.delete(runtime),
        // A stopping subscription gets no more events: its partial batch need not wait.
        onStopping: collector?.flush,
      },
    );
  }

  health(): BusHealth {
    const subscriptions = [...this.runtimes].map((runtime) => runtime.health());
    const adapterState = this.adapter.state;
    let status: BusHealth['status'] = 'up';
    if (adapterState !== 'connected') status = 'down';
    else if (subscriptions.some((s) => s.state !== 'running' && s.state !== 'paused')) status = 'degraded';
    return { status, adapter: { name: this.adapter.name, state: adapterState }, subscriptions };
  }
}

const NO_OPTIONS: PublishOptions = Object.freeze({});

/**
 * A subscription's concurrency and prefetch, defaults filled in: a prefetch given below the
 * concurrency is a `ConfigError` (it would leave handlers idle), one left out is a multiple of it.
 */
function resolveFlow(
  settings: Pick<SubscribeOptions, 'concurrency' | 'prefetch'>,
  prefix = '',
): { concurrency: number; prefetch: number } {
  const concurrency = checkInteger(`${prefix}concurrency`, settings.concurrency ?? DEFAULT_CONCURRENCY, 1);
  if (settings.prefetch === undefined)
    return { concurrency, prefetch: DEFAULT_PREFETCH_FACTOR * concurrency };
  const prefetch = checkInteger(`${prefix}prefetch`, settings.prefetch, 1);
  if (prefetch < concurrency) {
    throw new ConfigError(
      `${prefix}prefetch`,
      `must be at least the concurrency (${concurrency}): the broker would not hand over enough records to keep every handler busy; got ${prefetch}`,
    );
  }
  return { concurrency, prefetch };
}

function publishedOf(draft: EventDraft): PublishedEvent {
  return { id: draft.id, type: draft.type, topic: draft.topic, key: draft.key };
}

/**
 * Creates an event bus. With no adapter it runs on an in-memory broker of its own, which is
 * enough for a single-process app and for tests.
 *
 * @example
 * ```ts
 * import { createBus, defineEvent } from '@tidings/core';
 * import { z } from 'zod';
 *
 * const OrderPlaced = defineEvent({ type: 'order.placed', schema: z.object({ orderId: z.string() }) });
 * const bus = createBus({ source: 'order-service' });
 * bus.subscribe(OrderPlaced, { group: 'analytics' }, (event) => console.log(event.data.orderId));
 * await bus.start();
 * await bus.publish(OrderPlaced, { orderId: 'o-1' });
 * ```
 */
export function createBus(options: BusOptions): Bus {
  return new EventBus(options);
}
