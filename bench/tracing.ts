// What OpenTelemetry costs the in-memory pipeline (publish → validate → encode → broker → decode →
// validate → policies → handler), in events per second:
//   tracing-off   createBus({ telemetry: false })
//   tracing-noop  the default: the API's global providers with no SDK registered
//   tracing-sdk   an SDK recording every span (BatchSpanProcessor to an exporter that drops them)
//                 and every metric (a periodic reader to an exporter that drops them), with the
//                 AsyncLocalStorage context manager, as NodeSDK sets up
// Variants alternate round by round so that machine noise hits them alike; each figure is the
// median of the rounds.
// Run alone: npx tsx bench/tracing.ts [--messages N] [--quick] [--only tracing-off,tracing-sdk]
// (after `npx turbo run build --filter=@tidings/core`: it measures dist, as users run it)
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { type BusOptions, createBus, createMemoryAdapter, defineEvent } from '@tidings/core';
import { z } from 'zod';
import { type BenchOptions, type BenchResult, median } from './lib/result';

const Reading = defineEvent({
  type: 'sensor.reading',
  schema: z.object({ sensorId: z.string(), seq: z.number().int(), value: z.number(), note: z.string() }),
  key: (data) => data.sensorId,
});

const NOTE = 'n'.repeat(150);
const reading = (seq: number) => ({ sensorId: `sensor-${seq % 64}`, seq, value: seq * 0.5, note: NOTE });
const MESSAGE_BYTES = Buffer.byteLength(JSON.stringify(reading(123_456)));
const PUBLISHERS = 64;

type Variant = 'tracing-off' | 'tracing-noop' | 'tracing-sdk';

// Exporters that accept everything and keep nothing: the SDK's own work is measured, not I/O.
const dropSpans: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => undefined,
};
const dropMetrics: PushMetricExporter = {
  export: (_metrics, done) => done({ code: 0 }),
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
  selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
};

interface Sdk {
  readonly telemetry: BusOptions['telemetry'];
  shutdown(): Promise<void>;
}

function startSdk(): Sdk {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(dropSpans, { maxQueueSize: 16_384, maxExportBatchSize: 512 })],
  });
  const meterProvider = new MeterProvider({
    readers: [new PeriodicExportingMetricReader({ exporter: dropMetrics, exportIntervalMillis: 1_000 })],
  });
  return {
    telemetry: { tracerProvider, meterProvider },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      context.disable();
    },
  };
}

async function round(variant: Variant, messages: number): Promise<number> {
  const sdk = variant === 'tracing-sdk' ? startSdk() : undefined;
  const bus = createBus({
    source: 'bench',
    adapter: createMemoryAdapter({ maxQueuedRecords: 2_000 }),
    ...(variant === 'tracing-off' ? { telemetry: false } : {}),
    ...(sdk === undefined ? {} : { telemetry: sdk.telemetry }),
  });
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  bus.subscribe(Reading, { group: 'bench', concurrency: 64, ordering: 'none' }, () => {
    if (++handled === messages) done();
  });
  await bus.start();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async () => {
      while (next < messages) await bus.publish(Reading, reading(next++));
    }),
  );
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await bus.stop();
  await sdk?.shutdown();
  return messages / seconds;
}

const VARIANTS: readonly Variant[] = ['tracing-off', 'tracing-noop', 'tracing-sdk'];

/** Options of {@link run}; `variants` narrows the run, e.g. to profile one of them. */
export interface TracingBenchOptions extends BenchOptions {
  readonly variants?: readonly Variant[];
}

export async function run(options: TracingBenchOptions): Promise<BenchResult[]> {
  const { messages, variants = VARIANTS } = options;
  const rounds = options.quick ? 1 : 5;
  for (const variant of variants) await round(variant, Math.min(20_000, messages)); // warm the JIT up
  const rates = new Map<Variant, number[]>(variants.map((variant) => [variant, []]));
  for (let i = 0; i < rounds; i++) {
    for (const variant of variants) rates.get(variant)!.push(await round(variant, messages));
  }
  return variants.map((variant) => ({
    scenario: variant,
    broker: 'memory',
    impl: 'tidings',
    messages,
    messageBytes: MESSAGE_BYTES,
    msgsPerSec: Math.round(median(rates.get(variant)!)),
    p50Ms: null,
    p99Ms: null,
  }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const index = process.argv.indexOf('--messages');
  const messages = index === -1 ? 100_000 : Number(process.argv[index + 1]);
  const only = process.argv.indexOf('--only');
  const variants = only === -1 ? VARIANTS : (process.argv[only + 1]!.split(',') as Variant[]);
  const results = await run({ messages, quick: process.argv.includes('--quick'), variants });
  console.table(results);
  console.log(JSON.stringify(results));
}
