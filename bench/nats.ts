// NATS JetStream: nats.js used as its docs recommend (publish acks, a durable pull consumer with
// explicit acks) beside the same work through Tidings (zod contract, envelope, default policies),
// 1 KiB JSON events, rounds alternated so that machine noise hits both alike.
// Run alone: npx tsx --conditions=@tidings/source bench/nats.ts [--messages N] [--url 127.0.0.1:4222]
import { createNatsAdapter } from '@tidings/adapter-nats';
import { createBus, defineEvent } from '@tidings/core';
import { AckPolicy, connect, DeliverPolicy, type JsMsg, type NatsConnection } from 'nats';
import { z } from 'zod';

/** One measured row. */
export interface BenchResult {
  scenario: 'publish' | 'consume' | 'serial-latency';
  broker: string;
  impl: 'raw' | 'tidings';
  messages: number;
  messageBytes: number;
  msgsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** Options of {@link run}. */
export interface NatsBenchOptions {
  /** Events per throughput round. */
  readonly messages: number;
  /** One round of each instead of three, for a smoke run. */
  readonly quick?: boolean;
  /** The NATS server (with JetStream). Default `127.0.0.1:4222`, the machine's. */
  readonly url?: string;
}

const DEFAULT_URL = '127.0.0.1:4222';
const MESSAGE_BYTES = 1024;
/** Publishes in flight at once, the same for raw and Tidings. */
const IN_FLIGHT = 100;
/** Records a consumer may hold at once: raw `max_messages`, Tidings `concurrency`. */
const PREFETCH = 64;
const LATENCY_SAMPLES = 400;

type Order = { seq: number; customer: string; payload: string };

const Order = defineEvent({
  type: 'bench.order',
  schema: z.object({ seq: z.number().int(), customer: z.string(), payload: z.string() }),
  key: (data) => data.customer,
});

// 1 KiB of JSON data per event (the seq field's width varies by a few bytes).
const FILLER = 'x'.repeat(
  MESSAGE_BYTES - JSON.stringify({ seq: 0, customer: 'c-00', payload: '' }).length - 4,
);
const order = (seq: number): Order => ({
  seq,
  customer: `c-${String(seq % 64).padStart(2, '0')}`,
  payload: FILLER,
});

function runId(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Runs `publish(i)` for i in [0, count) with `IN_FLIGHT` calls in flight. */
async function drive(count: number, publish: (seq: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, count) }, async () => {
      while (next < count) await publish(next++);
    }),
  );
}

function counter(target: number): { hit: () => void; done: Promise<void> } {
  let count = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  return {
    hit: () => {
      if (++count === target) resolve();
    },
    done,
  };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN
  );
}

const median = (values: readonly number[]): number => percentile(values, 50);
const round3 = (value: number): number => Math.round(value * 1000) / 1000;

interface Measured {
  publish: number;
  consume: number;
  latencies: number[];
}

/** nats.js alone: a stream of its own, publish acks, a durable pull consumer, explicit acks. */
async function rawRound(url: string, messages: number): Promise<Measured> {
  const id = runId();
  const stream = `BENCH_RAW_${id.toUpperCase()}`;
  const subject = `benchraw${id}`;
  const nc: NatsConnection = await connect({ servers: url });
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  await jsm.streams.add({ name: stream, subjects: [`${subject}.>`] });
  try {
    const encode = (seq: number): Uint8Array => Buffer.from(JSON.stringify(order(seq)));

    let started = performance.now();
    await drive(messages, (seq) => js.publish(`${subject}.orders`, encode(seq)));
    const publish = messages / ((performance.now() - started) / 1000);

    await jsm.consumers.add(stream, {
      durable_name: 'consume',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: `${subject}.orders`,
    });
    const consumed = counter(messages);
    started = performance.now();
    const reader = await (await js.consumers.get(stream, 'consume')).consume({ max_messages: PREFETCH });
    const reading = (async () => {
      for await (const m of reader) {
        m.json<Order>();
        m.ack();
        consumed.hit();
      }
    })();
    await consumed.done;
    const consume = messages / ((performance.now() - started) / 1000);
    await reader.close();
    await reading;

    await jsm.consumers.add(stream, {
      durable_name: 'latency',
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      filter_subject: `${subject}.latency`,
    });
    const latencies = await serialLatency(
      async (onMessage) => {
        const messagesIn = await (await js.consumers.get(stream, 'latency')).consume({
          max_messages: PREFETCH,
        });
        void (async () => {
          for await (const m of messagesIn as AsyncIterable<JsMsg>) {
            onMessage(m.json<Order>().seq);
            m.ack();
          }
        })();
        return () => messagesIn.close().then(() => undefined);
      },
      (seq) => js.publish(`${subject}.latency`, encode(seq)),
    );
    return { publish, consume, latencies };
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
}

/** The same through Tidings: bus.publish (validation, envelope, encoding) and bus.subscribe. */
async function tidingsRound(
  url: string,
  messages: number,
  ordering: 'none' | 'key' = 'none',
): Promise<Measured> {
  const id = runId();
  const prefix = `benchtd${id}`;
  const stream = prefix.toUpperCase();
  const newBus = () =>
    createBus({
      source: 'bench',
      adapter: createNatsAdapter({ servers: url, prefix, stream: { name: stream } }),
    });
  const publisher = newBus();
  await publisher.start();
  try {
    let started = performance.now();
    await drive(messages, (seq) => publisher.publish(Order, order(seq)));
    const publish = messages / ((performance.now() - started) / 1000);

    // Unordered, as the raw consumer is (unless asked); the default policies (retry, dead letter,
    // timeout) stay on.
    const consumer = newBus();
    await consumer.adapter.connect();
    const consumed = counter(messages);
    consumer.subscribe(
      Order,
      { group: 'consume', startFrom: 'earliest', ordering, concurrency: PREFETCH },
      () => consumed.hit(),
    );
    started = performance.now();
    await consumer.start();
    await consumed.done;
    const consume = messages / ((performance.now() - started) / 1000);
    await consumer.stop();

    const latencies = await serialLatency(
      async (onMessage) => {
        const bus = newBus();
        const subscription = bus.subscribe(
          Order,
          { group: 'latency', startFrom: 'latest', ordering: 'none', concurrency: PREFETCH },
          (event) => onMessage(event.data.seq),
        );
        await bus.start();
        await subscription.ready;
        return () => bus.stop();
      },
      (seq) => publisher.publish(Order, order(seq)),
    );
    return { publish, consume, latencies };
  } finally {
    await publisher.stop();
    const nc = await connect({ servers: url });
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
}

/** One event in flight at a time: publish, wait until the handler has it, publish the next. */
async function serialLatency(
  subscribe: (onMessage: (seq: number) => void) => Promise<() => Promise<void>>,
  publish: (seq: number) => Promise<unknown>,
): Promise<number[]> {
  let waiting: { seq: number; resolve: () => void } | undefined;
  const stop = await subscribe((seq) => {
    if (waiting?.seq === seq) waiting.resolve();
  });
  const latencies: number[] = [];
  try {
    // The first few warm the path up and are not counted.
    for (let seq = 0; seq < LATENCY_SAMPLES + 20; seq++) {
      const arrived = new Promise<void>((resolve) => {
        waiting = { seq, resolve };
      });
      const started = performance.now();
      await publish(seq);
      await arrived;
      if (seq >= 20) latencies.push(performance.now() - started);
    }
  } finally {
    await stop();
  }
  return latencies;
}

function rows(impl: 'raw' | 'tidings', messages: number, rounds: readonly Measured[]): BenchResult[] {
  const base = { broker: 'nats', impl, messageBytes: MESSAGE_BYTES };
  const latencies = rounds.flatMap((r) => r.latencies);
  return [
    {
      ...base,
      scenario: 'publish',
      messages,
      msgsPerSec: Math.round(median(rounds.map((r) => r.publish))),
      p50Ms: null,
      p99Ms: null,
    },
    {
      ...base,
      scenario: 'consume',
      messages,
      msgsPerSec: Math.round(median(rounds.map((r) => r.consume))),
      p50Ms: null,
      p99Ms: null,
    },
    {
      ...base,
      scenario: 'serial-latency',
      messages: latencies.length,
      msgsPerSec: Math.round(1000 / (latencies.reduce((sum, l) => sum + l, 0) / latencies.length)),
      p50Ms: round3(percentile(latencies, 50)),
      p99Ms: round3(percentile(latencies, 99)),
    },
  ];
}

/**
 * Measures raw nats.js JetStream and Tidings on the NATS adapter, alternating rounds (raw,
 * Tidings, raw, Tidings, ...) and reporting the median round of each.
 */
export async function run(options: NatsBenchOptions): Promise<BenchResult[]> {
  const url = options.url ?? DEFAULT_URL;
  const { messages } = options;
  const rounds = options.quick === true ? 1 : 3;
  // Warm both paths up (JIT, connections, the server's file store) before measuring.
  await rawRound(url, Math.min(2_000, messages));
  await tidingsRound(url, Math.min(2_000, messages));
  const raw: Measured[] = [];
  const tidings: Measured[] = [];
  for (let i = 0; i < rounds; i++) {
    raw.push(await rawRound(url, messages));
    tidings.push(await tidingsRound(url, messages));
  }
  return [...rows('raw', messages, raw), ...rows('tidings', messages, tidings)];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string): string | undefined => {
    const index = process.argv.indexOf(name);
    return index === -1 ? undefined : process.argv[index + 1];
  };
  const messages = Number(arg('--messages') ?? 10_000);
  const url = arg('--url');
  const results = await run({ messages, ...(url === undefined ? {} : { url }) });
  console.table(results);
  console.log(JSON.stringify(results, null, 2));
  if (process.argv.includes('--ordered')) {
    // Not a row of the comparison: raw nats.js has no per-key order to compare with.
    const ordered = await tidingsRound(url ?? DEFAULT_URL, messages, 'key');
    console.log(`tidings consume with ordering 'key' (8 partitions): ${Math.round(ordered.consume)} msg/s`);
  }
}
