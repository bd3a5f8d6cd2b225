// RabbitMQ: amqplib as a skilled user writes it for throughput (a confirm channel and persistent
// messages to publish, many in flight; a consumer with manual acks and a prefetch) beside the same
// work through Tidings on the RabbitMQ adapter, with its defaults and tuned. The raw consume-batch
// row takes a prefetch of BATCH_SIZE and acks each batch with one ack(last, allUpTo = true), when
// it is full or BATCH_WAIT_MS after its first message. Every lane uses a durable topic exchange of
// its own, quorum queues, and one connection to publish and another to consume. The driver
// (lib/driver.ts) runs the scenarios.
//
// What the raw lane does not do and Tidings does: validate the event against its schema when it is
// published and again when it is received, build the CloudEvents envelope (id, type, source, time,
// content type and the trace context headers) and decode it back, and run each delivery through the
// default policies (retry through delay queues, dead letter, handler timeout). The raw lane does set
// a message id and a type and parses the JSON in its handler, so that the messages are alike.
//
// Run alone: npx tsx bench/rabbitmq.ts [--messages N] [--rounds N] [--quick]   (after `npm run build`)
// It needs the local broker (bash tools/services.sh) and deletes every queue and exchange it makes.
import { randomUUID } from 'node:crypto';
import { createRabbitMQAdapter, workQueueName } from '@tidings/adapter-rabbitmq';
import { type ChannelModel, type ConfirmChannel, type ConsumeMessage, connect } from 'amqplib';
import { runWhenMain } from './lib/cli';
import { BATCH_SIZE, BATCH_WAIT_MS, type DriverOptions, type Lane, runBroker } from './lib/driver';
import { BENCH_EVENT_TYPE, type BenchEvent } from './lib/event';
import type { BenchResult } from './lib/result';
import { createTidingsLanes } from './lib/tidings-lane';

const URL = 'amqp://guest:guest@127.0.0.1:5672';
/** Unacknowledged deliveries a raw consumer holds, and handlers a tuned Tidings subscription runs at once. */
const PREFETCH = 64;
/** Well below the few thousand confirmed publishes a second that either lane reaches here. */
const E2E_RATE = 500;

function rawLane(namespace: string): Lane<'raw'> {
  const exchange = `${namespace}-raw`;
  const queues: string[] = [];
  let publishing: ChannelModel | undefined;
  let consuming: ChannelModel | undefined;
  let publisher: ConfirmChannel | undefined;

  return {
    impl: 'raw',
    name: 'amqplib',
    async open() {
      [publishing, consuming] = await Promise.all([connect(URL), connect(URL)]);
      publisher = await publishing.createConfirmChannel();
      await publisher.assertExchange(exchange, 'topic', { durable: true });
    },
    async prepare(name) {
      if (publisher === undefined || consuming === undefined) throw new Error('open the lane first');
      const channel = publisher;
      const connection = consuming;
      const queue = `${exchange}/${name}`;
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await channel.bindQueue(queue, exchange, name);
      queues.push(queue);
      return {
        publish: (event) =>
          new Promise<void>((resolve, reject) => {
            channel.publish(
              exchange,
              name,
              Buffer.from(JSON.stringify(event)),
              {
                persistent: true,
                contentType: 'application/json',
                messageId: randomUUID(),
                type: BENCH_EVENT_TYPE,
              },
              (error: unknown) => (error ? reject(error) : resolve()),
            );
          }),
        async consume(onEvent) {
          const consumer = await connection.createChannel();
          await consumer.prefetch(PREFETCH);
          await consumer.consume(queue, (message) => {
            if (message === null) return;
            onEvent(JSON.parse(message.content.toString()) as BenchEvent);
            consumer.ack(message);
          });
          return { stop: () => consumer.close() };
        },
        async consumeBatch(onEvents) {
          const consumer = await connection.createChannel();
          await consumer.prefetch(BATCH_SIZE);
          let events: BenchEvent[] = [];
          let last: ConsumeMessage | undefined;
          let timer: NodeJS.Timeout | undefined;
          const flush = () => {
            clearTimeout(timer);
            timer = undefined;
            if (last === undefined) return;
            const batch = events;
            const through = last;
            events = [];
            last = undefined;
            onEvents(batch);
            consumer.ack(through, true);
          };
          await consumer.consume(queue, (message) => {
            if (message === null) return;
            events.push(JSON.parse(message.content.toString()) as BenchEvent);
            last = message;
            if (events.length >= BATCH_SIZE) flush();
            else timer ??= setTimeout(flush, BATCH_WAIT_MS);
          });
          return {
            stop() {
              clearTimeout(timer);
              return consumer.close();
            },
          };
        },
      };
    },
    async close() {
      if (publisher !== undefined) {
        for (const queue of queues) await publisher.deleteQueue(queue);
        await publisher.deleteExchange(exchange);
      }
      await Promise.allSettled([publishing?.close(), consuming?.close()]);
    },
  };
}

/** Deletes the Tidings lane's work queues and exchange (no delay queues: nothing is retried). */
async function deleteTidingsTopology(exchange: string, group: string, topics: readonly string[]) {
  const connection = await connect(URL);
  try {
    const channel = await connection.createChannel();
    for (const topic of topics) await channel.deleteQueue(workQueueName(exchange, group, topic));
    await channel.deleteExchange(exchange);
  } finally {
    await connection.close();
  }
}

/** Raw amqplib and Tidings on the local broker; see lib/driver.ts for the scenarios. */
export async function run(options: DriverOptions): Promise<BenchResult[]> {
  const namespace = `bench-rabbitmq-${Date.now().toString(36)}`;
  const exchange = `${namespace}-tidings`;
  const group = 'bench';
  return runBroker(
    {
      broker: 'rabbitmq',
      e2eRate: E2E_RATE,
      raw: [rawLane(namespace)],
      baseline: 'amqplib',
      tidings: createTidingsLanes({
        adapter: (role) =>
          createRabbitMQAdapter({ url: URL, exchange, connectionName: `${exchange} ${role}` }),
        topic: (name) => name,
        group,
        tuned: { concurrency: PREFETCH, prefetch: PREFETCH, ordering: 'none' },
        declareGroupFirst: true,
        cleanup: (topics, laneGroup) => deleteTidingsTopology(exchange, laneGroup, topics),
      }),
    },
    options,
  );
}

runWhenMain(import.meta.url, 10_000, run);
