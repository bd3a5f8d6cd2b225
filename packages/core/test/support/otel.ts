// The OpenTelemetry SDK wired to in-memory exporters, for the tracing tests (not exported).
import { type Attributes, context, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';

interface SpanWaiter {
  readonly where: (span: ReadableSpan) => boolean;
  readonly count: number;
  readonly resolve: (spans: ReadableSpan[]) => void;
}

/** Wakes the tests that wait for spans, as each span ends: a wait on events, not a sleep. */
class WaitingProcessor implements SpanProcessor {
  waiters: SpanWaiter[] = [];

  constructor(private readonly exporter: InMemorySpanExporter) {}

  onStart(): void {}

  onEnd(): void {
    // The exporting processor runs first, so the span is already among the finished ones.
    this.waiters = this.waiters.filter((waiter) => !this.wake(waiter));
  }

  wake(waiter: SpanWaiter): boolean {
    const found = this.exporter.getFinishedSpans().filter(waiter.where);
    if (found.length < waiter.count) return false;
    waiter.resolve(found);
    return true;
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

class TestMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Handlers run inside the process span only with a context manager, as NodeSDK registers one. */
export function useAsyncContext(): () => void {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  return () => {
    context.disable();
  };
}

export interface TestSdk {
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  /** Finished spans, oldest first. */
  spans(): ReadableSpan[];
  /** Resolves with the finished spans that match once there are `count` of them (10 s safety net). */
  waitForSpans(where: (span: ReadableSpan) => boolean, count?: number): Promise<ReadableSpan[]>;
  /** The one finished span with this name; fails when there are none or several. */
  span(name: string, where?: (span: ReadableSpan) => boolean): ReadableSpan;
  /** Every data point of a metric, after a collection. */
  points(name: string): Promise<DataPoint<unknown>[]>;
  /** The sum of a counter's (or the count of a histogram's) points whose attributes match. */
  total(name: string, attributes?: Attributes): Promise<number>;
  shutdown(): Promise<void>;
}

export function createTestSdk(): TestSdk {
  const exporter = new InMemorySpanExporter();
  const waiting = new WaitingProcessor(exporter);
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter), waiting],
  });
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });

  const collect = async (name: string): Promise<MetricData | undefined> => {
    const { resourceMetrics } = await reader.collect();
    for (const scope of resourceMetrics.scopeMetrics) {
      const found = scope.metrics.find((metric) => metric.descriptor.name === name);
      if (found !== undefined) return found;
    }
    return undefined;
  };

  const sdk: TestSdk = {
    tracerProvider,
    meterProvider,
    spans: () => exporter.getFinishedSpans(),
    waitForSpans(where, count = 1) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const names = exporter.getFinishedSpans().map((s) => s.name);
          reject(new Error(`waited 10 s for ${count} matching spans; finished: ${names.join(', ')}`));
        }, 10_000);
        const waiter: SpanWaiter = {
          where,
          count,
          resolve: (spans) => {
            clearTimeout(timer);
            resolve(spans);
          },
        };
        if (!waiting.wake(waiter)) waiting.waiters.push(waiter);
      });
    },
    span(name, where = () => true) {
      const found = exporter.getFinishedSpans().filter((s) => s.name === name && where(s));
      if (found.length !== 1) {
        const names = exporter.getFinishedSpans().map((s) => s.name);
        throw new Error(`expected one span "${name}", found ${found.length}; spans: ${names.join(', ')}`);
      }
      return found[0]!;
    },
    async points(name) {
      return ((await collect(name))?.dataPoints ?? []) as DataPoint<unknown>[];
    },
    async total(name, attributes = {}) {
      let total = 0;
      for (const point of await sdk.points(name)) {
        const matches = Object.entries(attributes).every(([key, value]) => point.attributes[key] === value);
        if (!matches) continue;
        const value = point.value;
        total += typeof value === 'number' ? value : (value as Histogram).count;
      }
      return total;
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
  return sdk;
}

/** The span id of a span's parent, if it has one. */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** The span contexts a span links to. */
export function linksOf(span: ReadableSpan): SpanContext[] {
  return span.links.map((link) => link.context);
}

/** The spans of the chained scenario both trace tests run (in memory and on a broker). */
export interface ChainedTrace {
  readonly request: ReadableSpan;
  readonly publish: ReadableSpan;
  readonly process: ReadableSpan;
  readonly work: ReadableSpan;
  readonly followUp: ReadableSpan;
  readonly followUpProcess: ReadableSpan;
}

/**
 * Waits for and checks one trace of: span `place order` → `publish order.placed` → `process
 * order.placed` (whose handler makes `reserve stock` and publishes `shipment.prepared`) →
 * `process shipment.prepared`, each the parent of the next, and the process span linked to the
 * creation context it continues.
 */
export async function expectChainedTrace(sdk: TestSdk, eventId: string): Promise<ChainedTrace> {
  // The follow-up may be handled before the first handler's span ends: wait for both.
  await sdk.waitForSpans(
    (s) => s.name === 'process order.placed' || s.name === 'process shipment.prepared',
    2,
  );
  const byId = (span: ReadableSpan) => span.attributes['messaging.message.id'] === eventId;
  const trace: ChainedTrace = {
    request: sdk.span('place order'),
    publish: sdk.span('publish order.placed', byId),
    process: sdk.span('process order.placed', byId),
    work: sdk.span('reserve stock'),
    followUp: sdk.span('publish shipment.prepared'),
    followUpProcess: sdk.span('process shipment.prepared'),
  };
  const id = (span: ReadableSpan) => span.spanContext().spanId;
  for (const span of Object.values(trace)) {
    expect(span.spanContext().traceId).toBe(trace.request.spanContext().traceId);
  }
  expect(parentOf(trace.publish)).toBe(id(trace.request));
  expect(parentOf(trace.process)).toBe(id(trace.publish));
  expect(linksOf(trace.process).map((link) => link.spanId)).toEqual([id(trace.publish)]);
  expect(parentOf(trace.work)).toBe(id(trace.process));
  expect(parentOf(trace.followUp)).toBe(id(trace.process));
  expect(parentOf(trace.followUpProcess)).toBe(id(trace.followUp));
  return trace;
}
