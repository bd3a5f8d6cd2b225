// Kafka: kafkajs as its docs recommend (an idempotent producer, acks from all in-sync replicas, a
// consumer group with eachMessage and automatic commits) beside the same work through Tidings on
// the Kafka adapter, which runs on its default client, @platformatic/kafka (--client chooses). The
// raw lane is still kafkajs's: a raw @platformatic/kafka lane is the performance issue's to write.
// The driver (lib/driver.ts) runs the scenarios.
//
// The raw producer is set up as the adapter's is (idempotent, one request in flight, which is what
// keeps kafkajs's idempotence sound, and the murmur2 partitioner) and sends one request per
// publish, as kafkajs's docs show for a single message. The adapter instead gathers the publishes
// that arrive while a request is in flight into its next sendBatch: with 100 publishes in flight
// that makes Tidings publish faster than this raw lane, and it is the adapter's doing, not noise.
//
// What the raw lane does not do and Tidings does: validate the event against its schema when it is
// published and again when it is received, build the CloudEvents envelope (id, type, source, time,
// content type and the trace context headers), decode the envelope back, and run each delivery
// through the default policies (retry with backoff, dead letter, handler timeout). The raw lane
// does send an id and a type header and parses the JSON in its handler, so that the records on the
// wire are alike.
//
// Run alone: npx tsx bench/kafka.ts [--messages N] [--rounds N] [--quick] [--client kafkajs|platformatic]
// (after `npm run build`); --client runs the Tidings lane on that client instead of the adapter's default.
// It needs the local broker: bash tools/kafka/kafka.sh start
import { randomUUID } from 'node:crypto';
import { createKafkaAdapter, type KafkaClientName } from '@tidings/adapter-kafka';
import { type Consumer, Kafka, logLevel, Partitioners } from 'kafkajs';
import { argument, runWhenMain } from './lib/cli';
import { type BrokerBench, type DriverOptions, type Lane, runBroker } from './lib/driver';
import { BENCH_EVENT_TYPE, type BenchEvent } from './lib/event';
import type { BenchResult } from './lib/result';
import { createTidingsLane } from './lib/tidings-lane';

const BROKER = '127.0.0.1:9092';
/**
 * A quarter or less of what the raw producer reaches here with one request in flight (1,000 to
 * 2,500 a second on two busy cores), so that the driver seldom has to lower it.
 */
const E2E_RATE = 250;
/** How long a fetch waits for data: the adapter's default, on both lanes (kafkajs's is 5 s). */
const MAX_WAIT_MS = 500;

function rawLane(kafka: Kafka, prefix: string): Lane<'raw'> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const admin = kafka.admin();
  const consumers = new Set<Consumer>();
  return {
    impl: 'raw',
    async open() {
      await Promise.all([producer.connect(), admin.connect()]);
    },
    async prepare(name) {
      const topic = `${prefix}-raw-${name}`;
      // Partitions and replicas as the broker's defaults, as the adapter creates its topics.
      await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
      return {
        async publish(event) {
          await producer.send({
            topic,
            acks: -1,
            messages: [
              {
                key: event.key,
                value: JSON.stringify(event),
                headers: { id: randomUUID(), type: BENCH_EVENT_TYPE },
              },
            ],
          });
        },
        async consume(onEvent) {
          const consumer = kafka.consumer({ groupId: topic, maxWaitTimeInMs: MAX_WAIT_MS });
          consumers.add(consumer);
          await consumer.connect();
          await consumer.subscribe({ topics: [topic], fromBeginning: true });
          await consumer.run({
            eachMessage: async ({ message }) => {
              if (message.value !== null) onEvent(JSON.parse(message.value.toString()) as BenchEvent);
            },
          });
          return {
            async stop() {
              consumers.delete(consumer);
              await consumer.disconnect();
            },
          };
        },
      };
    },
    async close() {
      await Promise.allSettled([...consumers].map((consumer) => consumer.disconnect()));
      await producer.disconnect();
      await admin.disconnect();
    },
  };
}

/** Deletes the run's topics (the Tidings lane's retry and dead-letter ones too) and groups. */
async function cleanup(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const { groups } = await admin.listGroups();
    const mine = groups.map((group) => group.groupId).filter((group) => group.startsWith(prefix));
    if (mine.length > 0) await admin.deleteGroups(mine);
  } finally {
    await admin.disconnect();
  }
}

/** The client of the Tidings lane when run alone with `--client`; the adapter's default otherwise. */
const client = argument('client') as KafkaClientName | undefined;

/** Raw kafkajs and Tidings on the local broker; see lib/driver.ts for the scenarios. */
export async function run(options: DriverOptions): Promise<BenchResult[]> {
  const prefix = `bench-kafka-${Date.now().toString(36)}`;
  const kafka = new Kafka({ clientId: 'bench-raw', brokers: [BROKER], logLevel: logLevel.NOTHING });
  const bench: BrokerBench = {
    broker: 'kafka',
    e2eRate: E2E_RATE,
    raw: rawLane(kafka, prefix),
    tidings: createTidingsLane({
      adapter: () =>
        createKafkaAdapter({
          brokers: [BROKER],
          consumer: { maxWaitTimeMs: MAX_WAIT_MS },
          ...(client === undefined ? {} : { client }),
        }),
      topic: (name) => `${prefix}-tidings-${name}`,
      group: `${prefix}-tidings`,
    }),
    cleanup: () => cleanup(kafka, prefix),
  };
  return runBroker(bench, options);
}

runWhenMain(import.meta.url, 20_000, run);
