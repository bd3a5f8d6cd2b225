// Raw ioredis (XADD, XREADGROUP, XACK) beside Tidings on the Redis Streams adapter, same server,
// same run, alternating rounds. Run:
//   npx tsx --conditions=@tidings/source bench/redis.ts [--messages N] [--rounds R] [--url redis://...]
// Prints a table and the results as JSON. Cleans up every key it made.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createRedisStreamsAdapter } from '@tidings/adapter-redis-streams';
import { createBus, defineEvent } from '@tidings/core';
import { Redis } from 'ioredis';
import { z } from 'zod';

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

export interface RunOptions {
  /** Events per throughput measurement. */
  readonly messages: number;
  /** Rounds of each implementation; the best round is reported. Default 2. */
  readonly rounds?: number;
  /** Serial publish→handler round trips measured for latency. Default 300. */
  readonly latencySamples?: number;
  /** The server. Default redis://127.0.0.1:6379. */
  readonly url?: string;
}

const MESSAGE_BYTES = 1024;
/** Publishes in flight at once, for both implementations. */
const IN_FLIGHT = 64;
/** Handlers running at once in the consumers (raw: entries per XREADGROUP). */
const CONSUME_BATCH = 64;
const BROKER = 'redis';

const Measured = defineEvent({
  type: 'bench.measured',
  schema: z.object({ seq: z.number().int(), sentAt: z.number(), payload: z.string() }),
});

/** 1 KiB of JSON: the data of one event. */
function event(seq: number): { seq: number; sentAt: number; payload: string } {
  const data = { seq, sentAt: performance.now(), payload: '' };
  const size = Buffer.byteLength(JSON.stringify(data));
  return { ...data, payload: 'x'.repeat(Math.max(0, MESSAGE_BYTES - size)) };
}

/** Runs `task(i)` for i in [0, count) with at most `limit` at once. */
async function bounded(count: number, limit: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

function percentile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round(sorted[index]! * 1000) / 1000;
}

function result(
  scenario: BenchResult['scenario'],
  impl: BenchResult['impl'],
  messages: number,
  seconds: number,
  latencies?: number[],
): BenchResult {
  const sorted = latencies === undefined ? undefined : [...latencies].sort((a, b) => a - b);
  return {
    scenario,
    broker: BROKER,
    impl,
    messages,
    messageBytes: MESSAGE_BYTES,
    msgsPerSec: Math.round(messages / seconds),
    p50Ms: sorted === undefined ? null : percentile(sorted, 50),
    p99Ms: sorted === undefined ? null : percentile(sorted, 99),
  };
}

// ---- raw ioredis --------------------------------------------------------------------------------

async function rawPublish(redis: Redis, stream: string, messages: number): Promise<number> {
  const started = performance.now();
  await bounded(messages, IN_FLIGHT, (i) => redis.xadd(stream, '*', 'body', JSON.stringify(event(i))));
  return (performance.now() - started) / 1000;
}

/** Reads the group's new entries in batches and acknowledges each batch, until `messages` were handled. */
async function rawConsume(
  redis: Redis,
  stream: string,
  group: string,
  messages: number,
  onEvent: (data: { seq: number; sentAt: number }) => void = () => undefined,
  stop: () => boolean = () => false,
): Promise<void> {
  let handled = 0;
  while (handled < messages && !stop()) {
    const reply = (await redis.xreadgroupBuffer(
      'GROUP',
      group,
      'bench',
      'COUNT',
      CONSUME_BATCH,
      'BLOCK',
      1_000,
      'STREAMS',
      stream,
      '>',
    )) as [Buffer, [Buffer, Buffer[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) continue;
    for (const [, fields] of entries) onEvent(JSON.parse(fields[1]!.toString('utf8')));
    await redis.xack(stream, group, ...entries.map(([id]) => id));
    handled += entries.length;
  }
}

async function rawRound(
  url: string,
  prefix: string,
  messages: number,
  samples: number,
): Promise<BenchResult[]> {
  const redis = new Redis(url);
  const reader = new Redis(url);
  try {
    const publishStream = `${prefix}:raw-publish`;
    const publishSeconds = await rawPublish(redis, publishStream, messages);

    // Consume: a fresh group reads the stream just published from its start.
    await redis.xgroup('CREATE', publishStream, 'consume', '0');
    const consumeStarted = performance.now();
    await rawConsume(reader, publishStream, 'consume', messages);
    const consumeSeconds = (performance.now() - consumeStarted) / 1000;

    // Serial latency: one event in flight, publish → handled.
    const latencyStream = `${prefix}:raw-latency`;
    await redis.xgroup('CREATE', latencyStream, 'latency', '$', 'MKSTREAM');
    const latencies: number[] = [];
    let waiting: (() => void) | undefined;
    let done = false;
    const consuming = rawConsume(
      reader,
      latencyStream,
      'latency',
      samples,
      (data) => {
        latencies.push(performance.now() - data.sentAt);
        waiting?.();
      },
      () => done,
    );
    const latencyStarted = performance.now();
    for (let i = 0; i < samples; i++) {
      const handled = new Promise<void>((resolve) => {
        waiting = resolve;
      });
      await redis.xadd(latencyStream, '*', 'body', JSON.stringify(event(i)));
      await handled;
    }
    const latencySeconds = (performance.now() - latencyStarted) / 1000;
    done = true;
    await consuming;
    await redis.del(publishStream, latencyStream);
    return [
      result('publish', 'raw', messages, publishSeconds),
      result('consume', 'raw', messages, consumeSeconds),
      result('serial-latency', 'raw', samples, latencySeconds, latencies),
    ];
  } finally {
    reader.disconnect();
    await redis.quit();
  }
}

// ---- Tidings ------------------------------------------------------------------------------------

async function tidingsRound(
  url: string,
  prefix: string,
  messages: number,
  samples: number,
): Promise<BenchResult[]> {
  // One bus per scenario, each on its own topic (the contract's topic is set per bus).
  const busFor = (topic: string) =>
    createBus({
      source: 'bench',
      adapter: createRedisStreamsAdapter({ connection: url }),
      topic: () => topic,
    });

  const publishTopic = `${prefix}:tidings-publish`;
  const publisher = busFor(publishTopic);
  await publisher.start();
  const publishStarted = performance.now();
  await bounded(messages, IN_FLIGHT, (i) => publisher.publish(Measured, event(i)));
  const publishSeconds = (performance.now() - publishStarted) / 1000;
  await publisher.stop();

  // Consume: a fresh group reads the topic just published from its start.
  const consumer = busFor(publishTopic);
  let consumed = 0;
  let allConsumed!: () => void;
  const consumedAll = new Promise<void>((resolve) => {
    allConsumed = resolve;
  });
  consumer.subscribe(
    Measured,
    { group: 'consume', startFrom: 'earliest', concurrency: CONSUME_BATCH },
    () => {
      if (++consumed === messages) allConsumed();
    },
  );
  const consumeStarted = performance.now();
  await consumer.start();
  await consumedAll;
  const consumeSeconds = (performance.now() - consumeStarted) / 1000;
  await consumer.stop();

  // Serial latency: one event in flight, publish → handled.
  const latencyTopic = `${prefix}:tidings-latency`;
  const bus = busFor(latencyTopic);
  const latencies: number[] = [];
  let waiting: (() => void) | undefined;
  bus.subscribe(Measured, { group: 'latency' }, (received) => {
    latencies.push(performance.now() - received.data.sentAt);
    waiting?.();
  });
  await bus.start();
  const latencyStarted = performance.now();
  for (let i = 0; i < samples; i++) {
    const handled = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    await bus.publish(Measured, event(i));
    await handled;
  }
  const latencySeconds = (performance.now() - latencyStarted) / 1000;
  await bus.stop();
  return [
    result('publish', 'tidings', messages, publishSeconds),
    result('consume', 'tidings', messages, consumeSeconds),
    result('serial-latency', 'tidings', samples, latencySeconds, latencies),
  ];
}

// ---- the run ------------------------------------------------------------------------------------

/** Keeps the best round of each scenario and implementation: highest rate, lowest p50. */
function best(rounds: readonly BenchResult[]): BenchResult[] {
  const kept = new Map<string, BenchResult>();
  for (const r of rounds) {
    const key = `${r.scenario}/${r.impl}`;
    const current = kept.get(key);
    const better =
      current === undefined ||
      (r.scenario === 'serial-latency' ? r.p50Ms! < current.p50Ms! : r.msgsPerSec > current.msgsPerSec);
    if (better) kept.set(key, r);
  }
  const order = ['publish', 'consume', 'serial-latency'];
  return [...kept.values()].sort(
    (a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario) || a.impl.localeCompare(b.impl),
  );
}

async function deleteMatching(url: string, pattern: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** Runs raw and Tidings rounds alternately and returns the best of each. */
export async function run(options: RunOptions): Promise<BenchResult[]> {
  const url = options.url ?? 'redis://127.0.0.1:6379';
  const rounds = options.rounds ?? 2;
  const samples = options.latencySamples ?? 300;
  const prefix = `bench-redis-${Date.now().toString(36)}`;
  const all: BenchResult[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      all.push(...(await rawRound(url, `${prefix}-${round}`, options.messages, samples)));
      all.push(...(await tidingsRound(url, `${prefix}-${round}`, options.messages, samples)));
    }
  } finally {
    // The streams, and the keys the adapter keeps beside them, all carry the prefix.
    await deleteMatching(url, `*${prefix}*`);
  }
  return best(all);
}

function table(results: readonly BenchResult[]): string {
  const rows = results.map((r) => [
    r.scenario,
    r.impl,
    String(r.messages),
    String(r.msgsPerSec),
    r.p50Ms === null ? '' : r.p50Ms.toFixed(3),
    r.p99Ms === null ? '' : r.p99Ms.toFixed(3),
  ]);
  const head = ['scenario', 'impl', 'messages', 'msg/s', 'p50 ms', 'p99 ms'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? undefined : process.argv[index + 1];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const messages = Number(argument('messages') ?? 20_000);
  const rounds = Number(argument('rounds') ?? 2);
  const url = argument('url');
  const results = await run({ messages, rounds, ...(url === undefined ? {} : { url }) });
  console.log(
    `Redis Streams, ${messages} events of ${MESSAGE_BYTES} B, ${IN_FLIGHT} publishes in flight, best of ${rounds} rounds\n`,
  );
  console.log(table(results));
  console.log(`\n${JSON.stringify(results, null, 2)}`);
}
