import {
  type Attributes,
  context,
  isSpanContextValid,
  type Link,
  type MeterProvider,
  type ObservableResult,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type {
  IncomingRecord,
  LandedDeadLetter,
  OutgoingRecord,
  RecordHeaders,
  Settlement,
} from '../adapters/contract';
import type { ConsumerLag } from '../adapters/optional';
import type { MessageContext } from '../context/delivery';
import type { EventDraft, PublishContext } from '../context/publish';
import { toError } from '../errors';
import { clip } from '../internal/text';
import {
  type CorrelationHeaders,
  correlationFields,
  logDeadLettered,
  logSettlement,
  logSettlementFailed,
} from '../logging/delivery-log';
import type { LogFields, SafeLogger } from '../logging/logger';
import { createInstruments, type Instruments, PairCache } from './instruments';
import { ATTR, INSTRUMENTATION_SCOPE, SPAN_EVENT } from './names';
import type { ResolvedTelemetryOptions } from './options';
import { formatTraceparent, formatTracestate, parseTraceparent } from './trace-context';

/** @internal What the telemetry needs to know about the adapter. */
export interface TelemetryAdapter {
  readonly name: string;
  readonly capabilities: { readonly headerPrefix: string };
}

/** @internal A subscription whose lag can be asked for: `undefined` when its adapter cannot tell. */
export interface LagSource {
  readonly group: string;
  lag(): Promise<readonly ConsumerLag[]> | undefined;
}

interface EnvelopeHeaders extends CorrelationHeaders {
  readonly source: string;
  readonly time: string;
  readonly correlation: string;
  readonly traceparent: string;
  readonly tracestate: string;
}

/** Metric attribute sets of one topic and consumer group, one per settlement. */
interface ConsumeAttributes {
  readonly ack: Attributes;
  readonly retry: Attributes;
  readonly deadLetter: Attributes;
  /** Without the settlement, for the latency histogram. */
  readonly base: Attributes;
}

const SETTLEMENT_NAMES = { ack: 'ack', retry: 'retry', deadLetter: 'dead_letter' } as const;

// What the global proxy hands out until an SDK registers a tracer provider.
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/** The value of `clock()` when metrics are off. */
const NO_CLOCK = -1;

/**
 * @internal The bus's traces, metrics and delivery logs. One per bus; the subscription runtimes
 * and the publish path call it at fixed points, and every method does as little as it can when
 * no SDK is registered: no span objects, no clocks, no attribute objects.
 */
export class BusTelemetry {
  readonly logger: SafeLogger;
  private readonly system: string;
  private readonly tracer: Tracer | undefined;
  /** The global proxy provider when spans go through it, to see whether an SDK is behind it. */
  private readonly globalProvider: ProxyTracerProvider | undefined;
  private readonly metricsOn: boolean;
  private readonly meterProvider: MeterProvider | undefined;
  private instruments: Instruments | undefined;
  private readonly headers: EnvelopeHeaders;
  private readonly lagSources: (() => Iterable<LagSource>) | undefined;
  private readonly spanAttributes: PairCache<Attributes>;
  private readonly publishAttributes: PairCache<Attributes>;
  private readonly consumeAttributes: PairCache<ConsumeAttributes>;
  /** Log fields of dead letters decided and not yet reported stored, by record. */
  private readonly awaitingDeadLetter = new WeakMap<IncomingRecord, LogFields>();

  constructor(
    options: ResolvedTelemetryOptions,
    adapter: TelemetryAdapter,
    logger: SafeLogger,
    lagSources?: () => Iterable<LagSource>,
  ) {
    this.logger = logger;
    this.system = adapter.name;
    const prefix = adapter.capabilities.headerPrefix;
    this.headers = {
      id: `${prefix}id`,
      type: `${prefix}type`,
      source: `${prefix}source`,
      time: `${prefix}time`,
      correlation: `${prefix}correlationid`,
      traceparent: `${prefix}traceparent`,
      tracestate: `${prefix}tracestate`,
    };
    if (options.traces) {
      const provider = options.tracerProvider ?? trace.getTracerProvider();
      this.tracer = provider.getTracer(INSTRUMENTATION_SCOPE);
      this.globalProvider = provider instanceof ProxyTracerProvider ? provider : undefined;
    } else {
      this.tracer = undefined;
      this.globalProvider = undefined;
    }
    this.metricsOn = options.metrics;
    this.meterProvider = options.meterProvider;
    this.lagSources = lagSources;
    const system = this.system;
    this.spanAttributes = new PairCache((destination, operation) => ({
      [ATTR.system]: system,
      [ATTR.destination]: destination,
      [ATTR.operationType]: operation === 'publish' ? 'send' : operation,
      [ATTR.operationName]: operation,
    }));
    this.publishAttributes = new PairCache((destination, errorType) => {
      const attributes: Attributes = {
        [ATTR.system]: system,
        [ATTR.destination]: destination,
        [ATTR.operationType]: 'send',
        [ATTR.operationName]: 'publish',
      };
      if (errorType !== '') attributes[ATTR.errorType] = errorType;
      return attributes;
    });
    this.consumeAttributes = new PairCache((destination, group) => {
      const base = {
        [ATTR.system]: system,
        [ATTR.destination]: destination,
        [ATTR.consumerGroup]: group,
        [ATTR.operationType]: 'process',
        [ATTR.operationName]: 'process',
      };
      return {
        base,
        ack: { ...base, [ATTR.settlement]: SETTLEMENT_NAMES.ack },
        retry: { ...base, [ATTR.settlement]: SETTLEMENT_NAMES.retry },
        deadLetter: { ...base, [ATTR.settlement]: SETTLEMENT_NAMES.deadLetter },
      };
    });
    this.refresh();
  }

  /**
   * Looks for a metrics SDK again if none was there before. The metrics API has no proxy: a meter
   * taken before the SDK registered stays a no-op, so the bus retries at `start()`.
   */
  refresh(): void {
    if (!this.metricsOn || this.instruments !== undefined) return;
    this.instruments = createInstruments(this.meterProvider);
    if (this.instruments !== undefined && this.lagSources !== undefined) {
      this.instruments.lag.addCallback(this.observeLag);
    }
  }

  /** Stops reporting the consumer lag: the meter provider outlives a stopped bus. */
  close(): void {
    this.instruments?.lag.removeCallback(this.observeLag);
  }

  /** Whether spans are recorded now: traces on, and an SDK behind the provider. */
  get tracing(): boolean {
    return (
      this.tracer !== undefined &&
      (this.globalProvider === undefined || this.globalProvider.getDelegate() !== NOOP_TRACER_PROVIDER)
    );
  }

  /** Whether a publish call is traced or counted now; when not, {@link publish} only runs it. */
  get observesPublish(): boolean {
    return this.instruments !== undefined || this.tracing;
  }

  // ---------------------------------------------------------------------------------------------
  // Publishing

  /**
   * Runs a publish call (`run` encodes and sends `ctx.drafts`) in a `publish` span. One event: the
   * span is its creation context (PRODUCER) and its context goes in the envelope. Several: each
   * gets a `create` span of its own, and the `publish` span links to them (the semantic
   * conventions' batch shape: each event keeps a parent of its own, so every consumer's trace
   * leads back to the event it handled, not to a batch). Events that came with a `traceparent`
   * of the caller's keep it, and the span links to it.
   */
  publish(ctx: PublishContext, run: (ctx: PublishContext) => Promise<void>): Promise<void> {
    const tracing = this.tracing;
    const instruments = this.instruments;
    if (!tracing && instruments === undefined) return run(ctx);
    let span: Span | undefined;
    try {
      if (tracing) span = this.startPublish(ctx.drafts);
    } catch (error) {
      this.broken(error);
    }
    const started = instruments === undefined ? NO_CLOCK : performance.now();
    return this.runIn(span, run, ctx).then(
      () => this.endPublish(ctx, span, started, undefined),
      (thrown: unknown) => {
        this.endPublish(ctx, span, started, toError(thrown));
        throw thrown;
      },
    );
  }

  /** Telemetry is best effort: a failing tracer or meter is logged, never the caller's problem. */
  private broken(error: unknown): void {
    this.logger.log('debug', { err: toError(error) }, 'telemetry failed; going on without it');
  }

  /**
   * Prepares events for an outbox: each gets a `create` span (PRODUCER) in the caller's trace,
   * and its context goes in the envelope, so that the relay and the consumers continue the trace
   * of the request that wrote the event, however much later they run.
   */
  prepare(ctx: PublishContext, run: (ctx: PublishContext) => Promise<void>): Promise<void> {
    if (this.tracing) {
      try {
        const parent = context.active();
        for (const draft of ctx.drafts) this.creationContext(draft, parent);
      } catch (error) {
        this.broken(error);
      }
    }
    return run(ctx);
  }

  /**
   * Sends records prepared earlier (an outbox relay's batch) in a `publish` span that links to each
   * record's creation context. When every record comes from one trace, the span joins that trace.
   */
  sendPrepared(
    records: readonly OutgoingRecord[],
    send: (records: readonly OutgoingRecord[]) => Promise<void>,
  ): Promise<void> {
    this.refresh();
    const tracing = this.tracing;
    const instruments = this.instruments;
    if (!tracing && instruments === undefined) return send(records);
    let span: Span | undefined;
    try {
      if (tracing) span = this.startSendPrepared(records);
    } catch (error) {
      this.broken(error);
    }
    const started = instruments === undefined ? NO_CLOCK : performance.now();
    return this.runIn(span, send, records)
      .then(
        () => this.countSent(records, started, undefined),
        (thrown: unknown) => {
          const error = toError(thrown);
          if (span !== undefined) failSpan(span, error);
          this.countSent(records, started, error);
          throw thrown;
        },
      )
      .finally(() => span?.end());
  }

  private runIn<T>(span: Span | undefined, run: (arg: T) => Promise<void>, arg: T): Promise<void> {
    try {
      if (span === undefined) return run(arg);
      return context.with(trace.setSpan(context.active(), span), run, undefined, arg);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private startPublish(drafts: readonly EventDraft[]): Span {
    const tracer = this.tracer!;
    const parent = context.active();
    if (drafts.length === 1) {
      const draft = drafts[0]!;
      const custom = parseTraceparent(draft.traceparent, draft.tracestate);
      const options: SpanOptions = {
        kind: custom === undefined ? SpanKind.PRODUCER : SpanKind.CLIENT,
        attributes: this.spanAttributes.get(draft.topic, 'publish'),
      };
      if (custom !== undefined) options.links = [{ context: custom }];
      const span = tracer.startSpan(`publish ${draft.topic}`, options, parent);
      if (custom === undefined) inject(draft, span.spanContext());
      if (span.isRecording()) this.describeDraft(span, draft);
      return span;
    }
    let topic: string | undefined = drafts[0]?.topic;
    const links: Link[] = [];
    for (const draft of drafts) {
      if (draft.topic !== topic) topic = undefined;
      links.push({ context: this.creationContext(draft, parent) });
    }
    const attributes: Attributes = {
      [ATTR.system]: this.system,
      [ATTR.operationType]: 'send',
      [ATTR.operationName]: 'publish',
      [ATTR.batchCount]: drafts.length,
    };
    if (topic !== undefined) attributes[ATTR.destination] = topic;
    // Its context is no event's creation context, so by the conventions it is a CLIENT span.
    return tracer.startSpan(
      topic === undefined ? 'publish' : `publish ${topic}`,
      {
        kind: SpanKind.CLIENT,
        links,
        attributes,
      },
      parent,
    );
  }

  /** The creation context of one event: the caller's own `traceparent`, or a new `create` span's. */
  private creationContext(draft: EventDraft, parent: ReturnType<typeof context.active>): SpanContext {
    const custom = parseTraceparent(draft.traceparent, draft.tracestate);
    if (custom !== undefined) return custom;
    const span = this.tracer!.startSpan(
      `create ${draft.topic}`,
      { kind: SpanKind.PRODUCER, attributes: this.spanAttributes.get(draft.topic, 'create') },
      parent,
    );
    const spanContext = span.spanContext();
    inject(draft, spanContext);
    if (span.isRecording()) this.describeDraft(span, draft);
    span.end();
    return spanContext;
  }

  private describeDraft(span: Span, draft: EventDraft): void {
    span.setAttribute(ATTR.messageId, draft.id);
    span.setAttribute(ATTR.eventType, draft.type);
    span.setAttribute(ATTR.eventSource, draft.source);
    if (draft.correlationId !== undefined) span.setAttribute(ATTR.conversationId, draft.correlationId);
  }

  private endPublish(
    ctx: PublishContext,
    span: Span | undefined,
    started: number,
    error: Error | undefined,
  ): void {
    try {
      this.finishPublish(ctx, span, started, error);
    } catch (thrown) {
      this.broken(thrown);
    }
  }

  private finishPublish(
    ctx: PublishContext,
    span: Span | undefined,
    started: number,
    error: Error | undefined,
  ): void {
    if (span !== undefined) {
      if (span.isRecording()) {
        const record = ctx.drafts.length === 1 ? ctx.records?.[0] : undefined;
        if (record !== undefined) span.setAttribute(ATTR.bodySize, record.body.byteLength);
        if (error !== undefined) failSpan(span, error);
      }
      span.end();
    }
    if (started === NO_CLOCK || this.instruments === undefined) return;
    const { sent, publishDuration } = this.instruments;
    const errorType = error === undefined ? '' : error.name;
    const drafts = ctx.drafts;
    for (let i = 0; i < drafts.length; i++)
      sent.add(1, this.publishAttributes.get(drafts[i]!.topic, errorType));
    const first = drafts[0];
    if (first !== undefined) {
      publishDuration.record(
        (performance.now() - started) / 1000,
        this.publishAttributes.get(first.topic, errorType),
      );
    }
  }

  private startSendPrepared(records: readonly OutgoingRecord[]): Span {
    const links: Link[] = [];
    let topic: string | undefined = records[0]?.topic;
    let shared: SpanContext | undefined;
    let oneTrace = true;
    for (const record of records) {
      if (record.topic !== topic) topic = undefined;
      const creation = parseTraceparent(
        record.headers[this.headers.traceparent],
        record.headers[this.headers.tracestate],
      );
      if (creation === undefined) {
        oneTrace = false;
        continue;
      }
      links.push({ context: creation });
      if (shared === undefined) shared = creation;
      else if (shared.traceId !== creation.traceId) oneTrace = false;
    }
    const attributes: Attributes = {
      [ATTR.system]: this.system,
      [ATTR.operationType]: 'send',
      [ATTR.operationName]: 'publish',
    };
    if (topic !== undefined) attributes[ATTR.destination] = topic;
    if (records.length > 1) attributes[ATTR.batchCount] = records.length;
    else if (records[0] !== undefined) this.describeRecord(attributes, records[0].headers, records[0].body);
    const active = context.active();
    const parent = oneTrace && shared !== undefined ? trace.setSpanContext(active, shared) : active;
    return this.tracer!.startSpan(
      topic === undefined ? 'publish' : `publish ${topic}`,
      {
        kind: SpanKind.CLIENT,
        links,
        attributes,
      },
      parent,
    );
  }

  private describeRecord(attributes: Attributes, headers: RecordHeaders, body: Uint8Array): void {
    const id = headers[this.headers.id];
    const type = headers[this.headers.type];
    const correlation = headers[this.headers.correlation];
    if (id !== undefined) attributes[ATTR.messageId] = id;
    if (type !== undefined) attributes[ATTR.eventType] = type;
    if (correlation !== undefined) attributes[ATTR.conversationId] = correlation;
    attributes[ATTR.bodySize] = body.byteLength;
  }

  private countSent(records: readonly OutgoingRecord[], started: number, error: Error | undefined): void {
    if (started === NO_CLOCK || this.instruments === undefined) return;
    const errorType = error === undefined ? '' : error.name;
    for (const record of records)
      this.instruments.sent.add(1, this.publishAttributes.get(record.topic, errorType));
    const first = records[0];
    if (first !== undefined) {
      this.instruments.publishDuration.record(
        (performance.now() - started) / 1000,
        this.publishAttributes.get(first.topic, errorType),
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Consuming

  /**
   * Starts the `process` span of one delivery (CONSUMER), a child of the event's creation context
   * read from the record's headers (the decode step has not run yet), with a link to it as the
   * conventions ask. `undefined` when no span is recorded.
   */
  startProcess(ctx: MessageContext): Span | undefined {
    if (!this.tracing) return undefined;
    try {
      return this.startProcessSpan(ctx);
    } catch (error) {
      // A tracer that throws (the API promises it never does) must not cost the message.
      this.broken(error);
      return undefined;
    }
  }

  private startProcessSpan(ctx: MessageContext): Span {
    const { record } = ctx;
    const headers = record.headers;
    const creation = parseTraceparent(headers[this.headers.traceparent], headers[this.headers.tracestate]);
    const options: SpanOptions = {
      kind: SpanKind.CONSUMER,
      attributes: this.consumeAttributes.get(record.topic, ctx.group).base,
    };
    // The root context, not the active one: whatever was active when the adapter's consumer loop
    // started is no parent of this delivery.
    let parent = ROOT_CONTEXT;
    if (creation !== undefined) {
      options.links = [{ context: creation }];
      parent = trace.setSpanContext(ROOT_CONTEXT, creation);
    }
    const span = this.tracer!.startSpan(`process ${record.topic}`, options, parent);
    if (span.isRecording()) {
      const attributes: Attributes = {
        [ATTR.attempt]: ctx.attempt,
        [ATTR.position]: record.position,
      };
      this.describeRecord(attributes, headers, record.body);
      span.setAttributes(attributes);
    }
    return span;
  }

  /** Runs the pipeline with `span` active, so spans the handler makes (and its publishes) are children. */
  within<TResult>(span: Span, run: (ctx: MessageContext) => TResult, ctx: MessageContext): TResult {
    return context.with(trace.setSpan(ROOT_CONTEXT, span), run, undefined, ctx);
  }

  /** A start time for the duration histogram; {@link NO_CLOCK} when metrics are off. */
  clock(): number {
    return this.instruments === undefined ? NO_CLOCK : performance.now();
  }

  /** Ends a delivery: closes its span, records its metrics and logs it if it needs attention. */
  endProcess(
    ctx: MessageContext,
    settlement: Settlement,
    error: Error | undefined,
    span: Span | undefined,
    started: number,
  ): void {
    try {
      if (span !== undefined) this.endProcessSpan(span, ctx, settlement, error);
      if (started !== NO_CLOCK && this.instruments !== undefined) {
        this.recordProcess(this.instruments, ctx, settlement, error, started);
      }
    } catch (thrown) {
      this.broken(thrown);
    }
    if (!this.logger.enabled) return;
    if (settlement.type === 'deadLetter') {
      // Logged when the adapter says the dead letter is stored (see deadLettered), with these fields.
      const fields = this.deliveryFields(ctx, span);
      if (error !== undefined) fields.err = error;
      this.awaitingDeadLetter.set(ctx.record, fields);
    } else if (settlement.type !== 'ack' || ctx.duplicate) {
      logSettlement(this.logger, this.deliveryFields(ctx, span), ctx, settlement, error);
    }
  }

  /** The adapter stored the dead letter of `record`: now it is true, say so. */
  deadLettered(record: IncomingRecord, group: string, landed: LandedDeadLetter): void {
    if (!this.logger.enabled) return;
    const fields = this.awaitingDeadLetter.get(record) ?? this.recordFields(record, group);
    this.awaitingDeadLetter.delete(record);
    logDeadLettered(this.logger, fields, landed);
  }

  /** The adapter could not apply the settlement of `record`; it stays with the broker. */
  settlementFailed(record: IncomingRecord, group: string, settlement: Settlement, error: Error): void {
    if (!this.logger.enabled) return;
    const fields = { ...(this.awaitingDeadLetter.get(record) ?? this.recordFields(record, group)) };
    logSettlementFailed(this.logger, fields, settlement, error);
  }

  /** Correlation fields read from a record's headers alone. */
  private recordFields(record: IncomingRecord, group: string): LogFields {
    return {
      eventId: clip(record.headers[this.headers.id] ?? '', 200) || undefined,
      eventType: clip(record.headers[this.headers.type] ?? '', 200) || undefined,
      group,
      attempt: record.attempt,
      topic: record.topic,
      position: record.position,
    };
  }

  /** The correlation fields of a delivery for a log line, with the trace id when there is one. */
  deliveryFields(ctx: MessageContext, span?: Span): LogFields {
    const fields = correlationFields(ctx, this.headers);
    const spanContext = span?.spanContext();
    if (spanContext !== undefined && isSpanContextValid(spanContext)) {
      fields.traceId = spanContext.traceId;
      fields.spanId = spanContext.spanId;
    }
    return fields;
  }

  private endProcessSpan(
    span: Span,
    ctx: MessageContext,
    settlement: Settlement,
    error: Error | undefined,
  ): void {
    if (span.isRecording()) {
      const { event } = ctx;
      // A record in structured content mode has no id header: the decoded event names it.
      if (event !== undefined && ctx.record.headers[this.headers.id] === undefined) {
        span.setAttribute(ATTR.messageId, event.id);
        span.setAttribute(ATTR.eventType, event.type);
        if (event.correlationId !== undefined) span.setAttribute(ATTR.conversationId, event.correlationId);
      }
      span.setAttribute(ATTR.settlement, SETTLEMENT_NAMES[settlement.type]);
      if (ctx.duplicate) span.setAttribute(ATTR.duplicate, true);
      if (error !== undefined) failSpan(span, error);
      if (settlement.type === 'retry') {
        span.addEvent(SPAN_EVENT.retry, {
          [ATTR.retryDelay]: settlement.delayMs,
          [ATTR.nextAttempt]: ctx.attempt + 1,
        });
        if (error === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: 'retry' });
      } else if (settlement.type === 'deadLetter') {
        span.addEvent(SPAN_EVENT.deadLetter, {
          [ATTR.deadLetterReason]: settlement.reason,
          [ATTR.deadLetterDestination]: settlement.topic,
        });
        if (error === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: settlement.reason });
      }
    }
    span.end();
  }

  private recordProcess(
    instruments: Instruments,
    ctx: MessageContext,
    settlement: Settlement,
    error: Error | undefined,
    started: number,
  ): void {
    const { record } = ctx;
    const set = this.consumeAttributes.get(record.topic, ctx.group);
    let attributes = set[settlement.type];
    if (error !== undefined) attributes = { ...attributes, [ATTR.errorType]: error.name };
    instruments.consumed.add(1, attributes);
    instruments.processDuration.record((performance.now() - started) / 1000, attributes);
    if (settlement.type === 'retry') instruments.retried.add(1, attributes);
    else if (settlement.type === 'deadLetter') instruments.deadLettered.add(1, attributes);
    // The latency ends with the event's last delivery to the group, once, retries included.
    if (settlement.type === 'retry' || ctx.duplicate) return;
    const time = ctx.event?.time ?? record.headers[this.headers.time];
    if (time === undefined) return;
    const at = Date.parse(time);
    if (Number.isNaN(at)) return;
    instruments.latency.record(Math.max(0, Date.now() - at) / 1000, set.base);
  }

  private readonly observeLag = async (result: ObservableResult): Promise<void> => {
    const pending: Promise<void>[] = [];
    for (const source of this.lagSources?.() ?? []) {
      const lag = source.lag();
      if (lag === undefined) continue;
      pending.push(
        lag.then(
          (entries) => {
            for (const entry of entries) {
              result.observe(entry.messages, this.consumeAttributes.get(entry.topic, source.group).base);
            }
          },
          (error: unknown) => {
            this.logger.log(
              'debug',
              { group: source.group, err: toError(error) },
              'could not read the consumer lag',
            );
          },
        ),
      );
    }
    await Promise.all(pending);
  };
}

/** Writes a creation context into an event's envelope attributes. */
function inject(draft: EventDraft, spanContext: SpanContext): void {
  if (!isSpanContextValid(spanContext)) return;
  draft.traceparent = formatTraceparent(spanContext);
  draft.tracestate = formatTracestate(spanContext);
}

function failSpan(span: Span, error: Error): void {
  span.recordException(error);
  span.setAttribute(ATTR.errorType, error.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}
