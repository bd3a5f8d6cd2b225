// The shared half of the bus's telemetry; publish-telemetry.ts and telemetry.ts build on it.
import {
  type Attributes,
  context,
  isSpanContextValid,
  type MeterProvider,
  type ObservableResult,
  ProxyTracerProvider,
  type Span,
  type SpanContext,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { IncomingRecord, RecordHeaders } from '../adapters/contract';
import type { ConsumerLag } from '../adapters/optional';
import type { EventDraft } from '../context/publish';
import { toError } from '../errors';
import type { CorrelationHeaders } from '../logging/delivery-log';
import type { LogFields, SafeLogger } from '../logging/logger';
import { createInstruments, type Instruments, PairCache } from './instruments';
import { ATTR, INSTRUMENTATION_SCOPE } from './names';
import type { ResolvedTelemetryOptions } from './options';
import { formatTraceparent, formatTracestate } from './trace-context';

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

export interface EnvelopeHeaders extends CorrelationHeaders {
  readonly source: string;
  readonly time: string;
  readonly correlation: string;
  readonly traceparent: string;
  readonly tracestate: string;
}

/** Metric attribute sets of one topic and consumer group, one per settlement. */
export interface ConsumeAttributes {
  readonly ack: Attributes;
  readonly retry: Attributes;
  readonly deadLetter: Attributes;
  /** Without the settlement, for the latency histogram. */
  readonly base: Attributes;
}

export const SETTLEMENT_NAMES = { ack: 'ack', retry: 'retry', deadLetter: 'dead_letter' } as const;

// What the global proxy hands out until an SDK registers a tracer provider.
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/** The value of `clock()` when metrics are off. */
export const NO_CLOCK = -1;

/**
 * @internal What the bus's publish and process telemetry share: the tracer, the metric
 * instruments, the attribute caches and the consumer-lag gauge. See {@link BusTelemetry}.
 */
export abstract class TelemetryBase {
  readonly logger: SafeLogger;
  protected readonly system: string;
  protected readonly tracer: Tracer | undefined;
  /** The global proxy provider when spans go through it, to see whether an SDK is behind it. */
  protected readonly globalProvider: ProxyTracerProvider | undefined;
  protected readonly metricsOn: boolean;
  protected readonly meterProvider: MeterProvider | undefined;
  protected instruments: Instruments | undefined;
  protected readonly headers: EnvelopeHeaders;
  protected readonly lagSources: (() => Iterable<LagSource>) | undefined;
  protected readonly spanAttributes: PairCache<Attributes>;
  protected readonly publishAttributes: PairCache<Attributes>;
  protected readonly consumeAttributes: PairCache<ConsumeAttributes>;
  /** Log fields of dead letters decided and not yet reported stored, by record. */
  protected readonly awaitingDeadLetter = new WeakMap<IncomingRecord, LogFields>();

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

  /** Telemetry is best effort: a failing tracer or meter is logged, never the caller's problem. */
  protected broken(error: unknown): void {
    this.logger.log('debug', { err: toError(error) }, 'telemetry failed; going on without it');
  }

  protected runIn<T>(span: Span | undefined, run: (arg: T) => Promise<void>, arg: T): Promise<void> {
    try {
      if (span === undefined) return run(arg);
      return context.with(trace.setSpan(context.active(), span), run, undefined, arg);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  protected describeRecord(attributes: Attributes, headers: RecordHeaders, body: Uint8Array): void {
    const id = headers[this.headers.id];
    const type = headers[this.headers.type];
    const correlation = headers[this.headers.correlation];
    if (id !== undefined) attributes[ATTR.messageId] = id;
    if (type !== undefined) attributes[ATTR.eventType] = type;
    if (correlation !== undefined) attributes[ATTR.conversationId] = correlation;
    attributes[ATTR.bodySize] = body.byteLength;
  }

  protected readonly observeLag = async (result: ObservableResult): Promise<void> => {
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
export function inject(draft: EventDraft, spanContext: SpanContext): void {
  if (!isSpanContextValid(spanContext)) return;
  draft.traceparent = formatTraceparent(spanContext);
  draft.tracestate = formatTracestate(spanContext);
}

export function failSpan(span: Span, error: Error): void {
  span.recordException(error);
  span.setAttribute(ATTR.errorType, error.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}
