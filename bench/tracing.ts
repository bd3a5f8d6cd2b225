// What OpenTelemetry costs the in-memory pipeline (publish → validate → encode → broker → decode →
// validate → policies → handler), in events per second:
//   tracing-off   createBus({ telemetry: false })
//   tracing-noop  the default: the API's global providers with no SDK registered
//   tracing-sdk   an SDK recording every span (BatchSpanProcessor to an exporter that drops them)
//                 and every metric (a periodic reader to an exporter that drops them), with the
//                 AsyncLocalStorage context manager, as NodeSDK sets up
//   (on request: tracing-sdk-spans, tracing-sdk-metrics: the SDK for one signal only)
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
import { createBus, createMemoryAdapter, defineEvent, type TelemetryOptions } from '@tidings/core';
import { z } from 'zod';
import { bounded, countdown } from './lib/load';
import { type BenchOptions, type BenchResult, median, throughputRow } from './lib/result';

const Reading = defineEvent({
  type: 'sensor.reading',
  schema: z.object({ sensorId: z.string(), seq: z.number().int(), value: z.number(), note: z.string() }),
  key: (data) => data.sensorId,
});

const NOTE = 'n'.repeat(150);
const reading = (seq: number) => ({ sensorId: `sensor-${seq % 64}`, seq, value: seq * 0.5, note: NOTE });
const MESSAGE_BYTES = Buffer.byteLength(JSON.stringify(reading(123_456)));
const PUBLISHERS = 64;

type Variant = 'tracing-off' | 'tracing-noop' | 'tracing-sdk' | 'tracing-sdk-spans' | 'tracing-sdk-metrics';

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
  readonly telemetry: TelemetryOptions;
  shutdown(): Promise<void>;
}

function startSdk(variant: Variant): Sdk {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(dropSpans, { maxQueueSize: 16_384, maxExportBatchSize: 512 })],
  });
  const meterProvider = new MeterProvider({
    readers: [new PeriodicExportingMetricReader({ exporter: dropMetrics, exportIntervalMillis: 1_000 })],
  });
  return {
    telemetry:
      variant === 'tracing-sdk-spans'
        ? { tracerProvider, metrics: false }
        : variant === 'tracing-sdk-metrics'
          ? { meterProvider, traces: false }
          : { tracerProvider, meterProvider },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      context.disable();
    },
  };
}

interface Round {
  /** Events per second, wall clock. */
  readonly rate: number;
  /** CPU time of this process per event, in microseconds: steadier than the rate on a busy machine. */
  readonly cpuMicros: number;
}

async function round(variant: Variant, messages: number): Promise<Round> {
  const sdk = variant.startsWith('tracing-sdk') ? startSdk(variant) : undefined;
  const bus = createBus({
    source: 'bench',
    adapter: createMemoryAdapter({ maxQueuedRecords: 2_000 }),
    ...(variant === 'tracing-off' ? { telemetry: false } : {}),
    ...(sdk === undefined ? {} : { telemetry: sdk.telemetry }),
  });
  const handled = countdown(messages, 120_000, variant);
  bus.subscribe(Reading, { group: 'bench', concurrency: 64, ordering: 'none' }, () => handled.hit());
  await bus.start();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await bounded(messages, PUBLISHERS, (seq) => bus.publish(Reading, reading(seq)));
  await handled.done;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await bus.stop();
  await sdk?.shutdown();
  return { rate: messages / seconds, cpuMicros: (used.user + used.system) / messages };
}

// The default run; `--only` can add the SDK with spans only or metrics only, to see which costs what.
const VARIANTS: readonly Variant[] = ['tracing-off', 'tracing-noop', 'tracing-sdk'];

/** Options of {@link run}; `variants` narrows the run, e.g. to profile one of them. */
export interface TracingBenchOptions extends BenchOptions {
  readonly variants?: readonly Variant[];
  /** Print each variant's rounds and CPU time per event. Default true. */
  readonly log?: boolean;
}

export async function run(options: TracingBenchOptions): Promise<BenchResult[]> {
  const { messages, variants = VARIANTS } = options;
  const rounds = options.quick ? 1 : 5;
  for (const variant of variants) await round(variant, Math.min(20_000, messages)); // warm the JIT up
  const results = new Map<Variant, Round[]>(variants.map((variant) => [variant, []]));
  for (let i = 0; i < rounds; i++) {
    for (const variant of variants) results.get(variant)!.push(await round(variant, messages));
  }
  if (options.log !== false) {
    console.table(
      variants.map((variant) => {
        const rows = results.get(variant)!;
        return {
          variant,
          'events/s (median)': Math.round(median(rows.map((r) => r.rate))),
          'events/s (rounds)': rows.map((r) => Math.round(r.rate)).join(' '),
          'CPU µs/event (median)': Math.round(median(rows.map((r) => r.cpuMicros)) * 100) / 100,
        };
      }),
    );
  }
  return variants.map((variant) =>
    throughputRow(
      { scenario: variant, broker: 'memory', impl: 'tidings', messageBytes: MESSAGE_BYTES },
      messages,
      results.get(variant)!.map((r) => r.rate),
    ),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const index = process.argv.indexOf('--messages');
  const messages = index === -1 ? 100_000 : Number(process.argv[index + 1]);
  const only = process.argv.indexOf('--only');
  const variants = only === -1 ? VARIANTS : (process.argv[only + 1]!.split(',') as Variant[]);
  const results = await run({ messages, quick: process.argv.includes('--quick'), variants });
  console.log(JSON.stringify(results));
}
