// RabbitMQ: amqplib as its documentation recommends (a confirm channel, persistent messages, a
// consumer with manual acks and a prefetch) beside the same work through Tidings (zod contract,
// CloudEvents envelope, default retry/dead-letter/timeout policies, the RabbitMQ adapter). Both
// use a durable topic exchange and quorum queues, and a connection each to publish and consume.
// 1 KiB JSON events; raw and Tidings rounds alternate so that machine noise hits both alike, and
// each figure is the median of the rounds.
//
// Run alone: npx tsx --conditions=@tidings/source bench/rabbitmq.ts [--messages N] [--rounds N] [--quick] [--url amqp://...]
// It needs the local broker (bash tools/services.sh) and deletes every queue and exchange it makes.
import { createRabbitMQAdapter, workQueueName } from '@tidings/adapter-rabbitmq';
import { createBus, defineEvent } from '@tidings/core';
import { type Channel, type ChannelModel, type ConfirmChannel, connect } from 'amqplib';
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
export interface RabbitMQBenchOptions {
  /** Events per throughput round. */
  readonly messages: number;
  /** Rounds of each implementation; each figure is their median. Default 3, or 1 when `quick`. */
  readonly rounds?: number;
  /** A short smoke run (CI): one round of each. */
  readonly quick?: boolean;
  /** Broker URL. Default: the machine's RabbitMQ, `amqp://guest:guest@127.0.0.1:5672`. */
  readonly url?: string;
}

const MESSAGE_BYTES = 1024;
/** Publishes in flight at once, the same for raw and Tidings. */
const IN_FLIGHT = 100;
/** Prefetch of the raw consumer and concurrency of the Tidings subscription. */
const PREFETCH = 64;
const LATENCY_SAMPLES = 300;
const TOPIC = 'bench.order.placed';
/** Serial latency runs on a topic of its own, so that the throughput queue does not see it. */
const LATENCY_TOPIC = 'bench.order.latency';

const Order = z.object({ seq: z.number().int(), customer: z.string(), note: z.string() });
type Order = z.infer<typeof Order>;
const OrderPlaced = defineEvent({ type: TOPIC, schema: Order, key: (order) => order.customer });
const OrderTimed = defineEvent({
  type: TOPIC,
  topic: LATENCY_TOPIC,
  schema: Order,
  key: (order) => order.customer,
});

/** An order whose JSON is exactly 1 KiB. */
function order(seq: number): Order {
  const bare: Order = { seq, customer: `c-${seq % 50}`, note: '' };
  return { ...bare, note: 'x'.repeat(MESSAGE_BYTES - JSON.stringify(bare).length) };
}

interface Measured {
  /** Messages per second. */
  readonly publish: number;
  readonly consume: number;
  /** Publish-to-handler times of messages sent one at a time, in milliseconds. */
  readonly latencies: readonly number[];
}

/** Runs `task(i)` for every i below `count`, {@link IN_FLIGHT} at a time. */
async function inBatches(count: number, task: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i += IN_FLIGHT) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(count, i + IN_FLIGHT); j++) batch.push(task(j));
    await Promise.all(batch);
  }
  return count / ((performance.now() - started) / 1000);
}

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// --- raw amqplib -------------------------------------------------------------------------------

function confirmedPublish(
  channel: ConfirmChannel,
  exchange: string,
  topic: string,
  body: Buffer,
): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish(
      exchange,
      topic,
      body,
      { persistent: true, contentType: 'application/json' },
      (error: unknown) => (error ? reject(error) : resolve()),
    );
  });
}

async function declareRaw(channel: Channel, exchange: string, queue: string, topic: string): Promise<void> {
  await channel.assertExchange(exchange, 'topic', { durable: true });
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(queue, exchange, topic);
}

async function rawRound(url: string, namespace: string, messages: number): Promise<Measured> {
  const exchange = `${namespace}-raw`;
  const [publishing, consuming] = await Promise.all([connect(url), connect(url)]);
  try {
    const publisher = await publishing.createConfirmChannel();
    const admin = await publishing.createChannel();
    const queue = `${exchange}/throughput`;
    await declareRaw(admin, exchange, queue, TOPIC);
    const bodies = Array.from({ length: messages }, (_, i) => Buffer.from(JSON.stringify(order(i))));
    const publish = await inBatches(messages, (i) =>
      confirmedPublish(publisher, exchange, TOPIC, bodies[i]!),
    );

    // Consume what the publish round stored.
    const consumer = await consuming.createChannel();
    await consumer.prefetch(PREFETCH);
    let handled = 0;
    const done = signal();
    const started = performance.now();
    await consumer.consume(queue, (message) => {
      if (message === null) return;
      JSON.parse(message.content.toString());
      consumer.ack(message);
      if (++handled === messages) done.resolve();
    });
    await done.promise;
    const consume = messages / ((performance.now() - started) / 1000);
    await consumer.close();

    // One message in flight at a time.
    const latencyQueue = `${exchange}/latency`;
    await declareRaw(admin, exchange, latencyQueue, LATENCY_TOPIC);
    const latencies: number[] = [];
    const receiver = await consuming.createChannel();
    await receiver.prefetch(PREFETCH);
    let arrived = signal();
    await receiver.consume(latencyQueue, (message) => {
      if (message === null) return;
      JSON.parse(message.content.toString());
      receiver.ack(message);
      arrived.resolve();
    });
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      arrived = signal();
      const sent = performance.now();
      await confirmedPublish(publisher, exchange, LATENCY_TOPIC, bodies[i % messages]!);
      await arrived.promise;
      latencies.push(performance.now() - sent);
    }
    await receiver.close();
    await admin.deleteQueue(queue);
    await admin.deleteQueue(latencyQueue);
    await admin.deleteExchange(exchange);
    return { publish, consume, latencies };
  } finally {
    await Promise.allSettled([publishing.close(), consuming.close()]);
  }
}

// --- Tidings -----------------------------------------------------------------------------------

async function tidingsRound(url: string, namespace: string, messages: number): Promise<Measured> {
  const exchange = `${namespace}-tidings`;
  const adapter = (role: string) =>
    createRabbitMQAdapter({ url, exchange, connectionName: `${exchange} ${role}` });
  const group = 'throughput';

  // A RabbitMQ group receives what is published after its queue exists: declare it first.
  const declaring = createBus({ source: 'bench', adapter: adapter('declare') });
  declaring.subscribe(OrderPlaced, { group }, () => undefined);
  await declaring.start();
  await declaring.stop();

  const publisher = createBus({ source: 'bench', adapter: adapter('publisher') });
  await publisher.start();
  const orders = Array.from({ length: messages }, (_, i) => order(i));
  const publish = await inBatches(messages, (i) => publisher.publish(OrderPlaced, orders[i]!));

  let handled = 0;
  const done = signal();
  const consumer = createBus({ source: 'bench', adapter: adapter('consumer') });
  consumer.subscribe(OrderPlaced, { group, concurrency: PREFETCH }, () => {
    if (++handled === messages) done.resolve();
  });
  const started = performance.now();
  await consumer.start();
  await done.promise;
  const consume = messages / ((performance.now() - started) / 1000);

  // One message in flight at a time, to a group of its own on the same consumer bus.
  const latencies: number[] = [];
  let arrived = signal();
  const latency = consumer.subscribe(OrderTimed, { group: 'latency', concurrency: PREFETCH }, () => {
    arrived.resolve();
  });
  await latency.ready;
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    arrived = signal();
    const sent = performance.now();
    await publisher.publish(OrderTimed, orders[i % messages]!);
    await arrived.promise;
    latencies.push(performance.now() - sent);
  }
  await Promise.all([consumer.stop(), publisher.stop()]);
  await deleteTidingsTopology(url, exchange, [
    workQueueName(exchange, group, TOPIC),
    workQueueName(exchange, 'latency', LATENCY_TOPIC),
  ]);
  return { publish, consume, latencies };
}

async function deleteTidingsTopology(
  url: string,
  exchange: string,
  queues: readonly string[],
): Promise<void> {
  const connection: ChannelModel = await connect(url);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    await channel.deleteExchange(exchange);
  } finally {
    await connection.close();
  }
}

// --- report ------------------------------------------------------------------------------------

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function rows(impl: 'raw' | 'tidings', rounds: readonly Measured[], messages: number): BenchResult[] {
  const common = { broker: 'rabbitmq', impl, messageBytes: MESSAGE_BYTES } as const;
  const round2 = (n: number): number => Math.round(n * 100) / 100;
  const p50s = rounds.map((r) => percentile(r.latencies, 50));
  const p99s = rounds.map((r) => percentile(r.latencies, 99));
  const perSecond = rounds.map((r) => LATENCY_SAMPLES / (r.latencies.reduce((a, b) => a + b, 0) / 1000));
  return [
    {
      ...common,
      scenario: 'publish',
      messages,
      msgsPerSec: Math.round(median(rounds.map((r) => r.publish))),
      p50Ms: null,
      p99Ms: null,
    },
    {
      ...common,
      scenario: 'consume',
      messages,
      msgsPerSec: Math.round(median(rounds.map((r) => r.consume))),
      p50Ms: null,
      p99Ms: null,
    },
    {
      ...common,
      scenario: 'serial-latency',
      messages: LATENCY_SAMPLES,
      msgsPerSec: Math.round(median(perSecond)),
      p50Ms: round2(median(p50s)),
      p99Ms: round2(median(p99s)),
    },
  ];
}

/**
 * Measures raw amqplib and Tidings on the same broker, alternating rounds, and returns the median
 * of each figure.
 */
export async function run(options: RabbitMQBenchOptions): Promise<BenchResult[]> {
  const url = options.url ?? 'amqp://guest:guest@127.0.0.1:5672';
  const rounds = options.rounds ?? (options.quick === true ? 1 : 3);
  const namespace = `bench-${Date.now().toString(36)}`;
  const raw: Measured[] = [];
  const tidings: Measured[] = [];
  for (let round = 0; round < rounds; round++) {
    raw.push(await rawRound(url, `${namespace}-${round}`, options.messages));
    tidings.push(await tidingsRound(url, `${namespace}-${round}`, options.messages));
  }
  return [...rows('raw', raw, options.messages), ...rows('tidings', tidings, options.messages)];
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

async function main(): Promise<void> {
  const started = performance.now();
  const url = argument('url');
  const rounds = argument('rounds');
  const results = await run({
    messages: Number(argument('messages') ?? 10_000),
    quick: process.argv.includes('--quick'),
    ...(rounds === undefined ? {} : { rounds: Number(rounds) }),
    ...(url === undefined ? {} : { url }),
  });
  console.table(results);
  console.log(JSON.stringify(results, null, 2));
  console.log(`bench/rabbitmq.ts took ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
