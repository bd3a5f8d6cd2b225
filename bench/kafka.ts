// Kafka: each raw lane as a skilled user of its client writes it for throughput, beside the same
// work through Tidings on the Kafka adapter, with its defaults and tuned. The Tidings lanes run on
// the adapter's default client, @platformatic/kafka (--client chooses), and their ratios divide by
// the raw lane of that client. The driver (lib/driver.ts) runs the scenarios.
//
//   platformatic        @platformatic/kafka as the adapter uses it: an idempotent producer (acks
//                       from every in-sync replica, one request in flight, the Java client's
//                       partitioner), and the publishes that arrive while a send is in flight go
//                       together into the next send({ messages }), as the adapter gathers them; a
//                       consumer group read through the client's message stream, offsets committed
//                       every COMMIT_INTERVAL_MS as the adapter commits. consume-batch: the stream
//                       taken in batches of BATCH_SIZE (or what came in BATCH_WAIT_MS), the offsets of
//                       each handled batch committed in one request, one commit in flight at a time
//                       (batches handled meanwhile go in the next); awaiting each commit before the
//                       next batch measured a commit round trip per 100 records, not the client.
//   kafkajs             kafkajs the same way (idempotent, one request in flight, which is what keeps
//                       its idempotence sound, the murmur2 partitioner; publishes gathered into the
//                       next send), a consumer group with eachMessage and automatic commits.
//                       consume-batch: eachBatch, resolveOffset and heartbeat, and one commit per batch.
//   kafkajs-per-record  kafkajs with one send per publish, as its docs show for a single message:
//                       the lane the benchmark had first, kept for the comparison (throughput only).
//
// What the raw lanes do not do and Tidings does: validate the event against its schema when it is
// published and again when it is received, build the CloudEvents envelope (id, type, source, time,
// content type and the trace context headers), decode the envelope back, and run each delivery
// through the default policies (retry with backoff, dead letter, handler timeout). The raw lanes do
// send an id and a type header and parse the JSON in their handler, so that the records on the
// wire are alike.
//
// Run alone: npx tsx bench/kafka.ts [--messages N] [--rounds N] [--quick] [--client kafkajs|platformatic]
// (after `npm run build`); --client runs the Tidings lanes on that client instead of the adapter's
// default, and compares them with that client's raw lane.
// It needs the local broker: bash tools/kafka/kafka.sh start
import { randomUUID } from 'node:crypto';
import {
  compatibilityPartitioner,
  type MessageToProduce,
  Consumer as PlatformaticConsumer,
  type Message as PlatformaticMessage,
  Producer as PlatformaticProducer,
} from '@platformatic/kafka';
import { createKafkaAdapter, type KafkaClientName } from '@tidings/adapter-kafka';
import { type Consumer, Kafka, logLevel, type Message, Partitioners } from 'kafkajs';
import { argument, runWhenMain } from './lib/cli';
import {
  BATCH_SIZE,
  BATCH_WAIT_MS,
  type BrokerBench,
  type DriverOptions,
  type Lane,
  type LaneConsumer,
  runBroker,
} from './lib/driver';
import { BENCH_EVENT_TYPE, type BenchEvent } from './lib/event';
import type { BenchResult } from './lib/result';
import { createTidingsLanes } from './lib/tidings-lane';

const BROKER = '127.0.0.1:9092';
/**
 * A quarter or less of what a raw producer reaches here with one record per request (1,000 to
 * 2,500 a second on two busy cores), so that the driver seldom has to lower it.
 */
const E2E_RATE = 250;
/** How long a fetch waits for data: the adapter's default, on every lane (kafkajs's is 5 s). */
const MAX_WAIT_MS = 500;
/**
 * Handlers a tuned Tidings subscription runs at once, as on the other brokers. The raw handlers are
 * synchronous, so a raw consumer has no concurrency to match: what the tuned lane matches is that
 * they do not hold a key's later records back (ordering 'none').
 */
const TUNED_CONCURRENCY = 64;
/** How often the platformatic lane commits what its stream delivered: the adapter's commitIntervalMs. */
const COMMIT_INTERVAL_MS = 200;

/**
 * A publish function that sends what arrives while a send is in flight together in the next one,
 * one send at a time (an idempotent producer's one request in flight); each call resolves when the
 * send that carried its record did.
 */
function coalescing<TRecord>(
  send: (records: TRecord[]) => Promise<unknown>,
): (record: TRecord) => Promise<void> {
  let queue: { record: TRecord; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let sending = false;
  const drain = async () => {
    sending = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await send(batch.map((entry) => entry.record));
        for (const entry of batch) entry.resolve();
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    sending = false;
  };
  return (record) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ record, resolve, reject });
      if (!sending) void drain();
    });
}

/** The record of `event` as both kafkajs lanes send it. */
const kafkajsMessage = (event: BenchEvent): Message => ({
  key: event.key,
  value: JSON.stringify(event),
  headers: { id: randomUUID(), type: BENCH_EVENT_TYPE },
});

/** A kafkajs lane: one send per publish (`perRecord`), or the publishes gathered into each send. */
function kafkajsLane(kafka: Kafka, prefix: string, perRecord: boolean): Lane<'raw'> {
  const name = perRecord ? 'kafkajs-per-record' : 'kafkajs';
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const admin = kafka.admin();
  const consumers = new Set<Consumer>();
  const start = async (topic: string): Promise<Consumer> => {
    const consumer = kafka.consumer({ groupId: topic, maxWaitTimeInMs: MAX_WAIT_MS });
    consumers.add(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    return consumer;
  };
  const stopper = (consumer: Consumer): LaneConsumer => ({
    async stop() {
      consumers.delete(consumer);
      await consumer.disconnect();
    },
  });
  return {
    impl: 'raw',
    name,
    async open() {
      await Promise.all([producer.connect(), admin.connect()]);
    },
    async prepare(scenario) {
      const topic = `${prefix}-${name}-${scenario}`;
      // Partitions and replicas as the broker's defaults, as the adapter creates its topics.
      await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
      const publish = perRecord
        ? (event: BenchEvent) =>
            producer.send({ topic, acks: -1, messages: [kafkajsMessage(event)] }).then(() => undefined)
        : coalescing((events: BenchEvent[]) =>
            producer.send({ topic, acks: -1, messages: events.map(kafkajsMessage) }),
          );
      return {
        publish,
        async consume(onEvent) {
          const consumer = await start(topic);
          await consumer.run({
            eachMessage: async ({ message }) => {
              if (message.value !== null) onEvent(JSON.parse(message.value.toString()) as BenchEvent);
            },
          });
          return stopper(consumer);
        },
        ...(perRecord
          ? {}
          : {
              async consumeBatch(onEvents: (events: readonly BenchEvent[]) => void) {
                const consumer = await start(topic);
                await consumer.run({
                  autoCommit: false,
                  eachBatchAutoResolve: false,
                  eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
                    const events: BenchEvent[] = [];
                    for (const message of batch.messages)
                      if (message.value !== null)
                        events.push(JSON.parse(message.value.toString()) as BenchEvent);
                    if (events.length > 0) onEvents(events);
                    const last = batch.lastOffset();
                    resolveOffset(last);
                    await heartbeat();
                    // One commit per batch: the offset after its last record.
                    await commitOffsetsIfNecessary({
                      topics: [
                        {
                          topic: batch.topic,
                          partitions: [
                            { partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
                          ],
                        },
                      ],
                    });
                  },
                });
                return stopper(consumer);
              },
            }),
      };
    },
    async close() {
      await Promise.allSettled([...consumers].map((consumer) => consumer.disconnect()));
      await producer.disconnect();
      await admin.disconnect();
    },
  };
}

type PlatformaticRecord = MessageToProduce<string, string, string, string>;
type PlatformaticDelivery = PlatformaticMessage<Buffer, Buffer, Buffer, Buffer>;

/** The @platformatic/kafka lane; `admin` (kafkajs's) makes its topics, outside every measurement. */
function platformaticLane(kafka: Kafka, prefix: string): Lane<'raw'> {
  const base = { clientId: 'bench-raw-platformatic', bootstrapBrokers: [BROKER] };
  // As the adapter's producer: idempotent, acks from every in-sync replica, one request in flight, and
  // the Java client's murmur2 placement of keys (platformatic's default partitioner places them elsewhere).
  const producer = new PlatformaticProducer<string, string, string, string>({
    ...base,
    idempotent: true,
    acks: -1,
    maxInflights: 1,
    partitioner: compatibilityPartitioner,
    serializers: {
      key: (key) => (key === undefined ? undefined : Buffer.from(key)),
      value: (value) => (value === undefined ? undefined : Buffer.from(value)),
      headerKey: (key) => (key === undefined ? undefined : Buffer.from(key)),
      headerValue: (value) => (value === undefined ? undefined : Buffer.from(value)),
    },
  });
  const admin = kafka.admin();
  const consumers = new Set<PlatformaticConsumer<Buffer, Buffer, Buffer, Buffer>>();
  const consumer = (group: string) => {
    const made = new PlatformaticConsumer<Buffer, Buffer, Buffer, Buffer>({
      ...base,
      groupId: group,
      maxWaitTime: MAX_WAIT_MS,
    });
    consumers.add(made);
    return made;
  };
  const decode = (message: PlatformaticDelivery): BenchEvent =>
    JSON.parse(message.value.toString()) as BenchEvent;
  return {
    impl: 'raw',
    name: 'platformatic',
    async open() {
      await admin.connect();
      // platformatic connects on first use: a metadata request, so the first publish does not pay it.
      await producer.metadata({ topics: [], forceUpdate: true });
    },
    async prepare(scenario) {
      const topic = `${prefix}-platformatic-${scenario}`;
      await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
      const publish = coalescing((events: BenchEvent[]) =>
        producer.send({
          messages: events.map(
            (event): PlatformaticRecord => ({
              topic,
              key: event.key,
              value: JSON.stringify(event),
              headers: { id: randomUUID(), type: BENCH_EVENT_TYPE },
            }),
          ),
        }),
      );
      return {
        publish,
        async consume(onEvent) {
          const member = consumer(topic);
          const stream = await member.consume({
            topics: [topic],
            mode: 'committed',
            fallbackMode: 'earliest',
            autocommit: COMMIT_INTERVAL_MS,
          });
          stream.on('data', (message: PlatformaticDelivery) => onEvent(decode(message)));
          return {
            async stop() {
              consumers.delete(member);
              await stream.close();
              await member.close(true);
            },
          };
        },
        async consumeBatch(onEvents) {
          const member = consumer(topic);
          const stream = await member.consume({
            topics: [topic],
            mode: 'committed',
            fallbackMode: 'earliest',
            autocommit: false,
          });
          let events: BenchEvent[] = [];
          let timer: NodeJS.Timeout | undefined;
          // Offsets handled and not yet committed (per partition, the one after the last record), and
          // the commit under way: one at a time, each carrying what the batches before it handled.
          let due = new Map<number, bigint>();
          let committing: Promise<void> | undefined;
          let failed: unknown;
          const commit = async () => {
            while (due.size > 0) {
              const offsets = due;
              due = new Map();
              await member
                .commit({
                  offsets: [...offsets].map(([partition, offset]) => ({
                    topic,
                    partition,
                    offset,
                    leaderEpoch: -1,
                  })),
                })
                .catch((error: unknown) => {
                  failed ??= error;
                });
            }
            committing = undefined;
          };
          let handled = new Map<number, bigint>();
          const flush = () => {
            clearTimeout(timer);
            timer = undefined;
            if (events.length === 0) return;
            const batch = events;
            events = [];
            onEvents(batch);
            for (const [partition, offset] of handled) due.set(partition, offset);
            handled = new Map();
            committing ??= commit();
          };
          stream.on('data', (message: PlatformaticDelivery) => {
            events.push(decode(message));
            handled.set(message.partition, message.offset + 1n);
            if (events.length >= BATCH_SIZE) flush();
            else timer ??= setTimeout(flush, BATCH_WAIT_MS);
          });
          return {
            async stop() {
              clearTimeout(timer);
              consumers.delete(member);
              await committing;
              await stream.close();
              await member.close(true);
              if (failed !== undefined) throw failed;
            },
          };
        },
      };
    },
    async close() {
      await Promise.allSettled([...consumers].map((member) => member.close(true)));
      await producer.close();
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

/** The client of the Tidings lanes when run alone with `--client`; the adapter's default otherwise. */
const client = argument('client') as KafkaClientName | undefined;

/** Raw kafkajs, raw @platformatic/kafka and Tidings on the local broker; see lib/driver.ts for the scenarios. */
export async function run(options: DriverOptions): Promise<BenchResult[]> {
  const prefix = `bench-kafka-${Date.now().toString(36)}`;
  const kafka = new Kafka({ clientId: 'bench-raw', brokers: [BROKER], logLevel: logLevel.NOTHING });
  // The Tidings lanes' topics are made with it; the raw lanes have admins of their own.
  const admin = kafka.admin();
  await admin.connect();
  const bench: BrokerBench = {
    broker: 'kafka',
    e2eRate: E2E_RATE,
    raw: [
      platformaticLane(kafka, prefix),
      kafkajsLane(kafka, prefix, false),
      kafkajsLane(kafka, prefix, true),
    ],
    // The adapter's default client is @platformatic/kafka.
    baseline: client === 'kafkajs' ? 'kafkajs' : 'platformatic',
    tidings: createTidingsLanes({
      adapter: () =>
        createKafkaAdapter({
          brokers: [BROKER],
          consumer: { maxWaitTimeMs: MAX_WAIT_MS },
          ...(client === undefined ? {} : { client }),
        }),
      topic: (name) => `${prefix}-tidings-${name}`,
      // Made as the raw lanes make theirs (the broker's partition count, as the adapter's own topic
      // creation asks for), so that no lane's publish clock includes creating its topic.
      createTopic: async (topic) => {
        await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
      },
      group: `${prefix}-tidings`,
      // Unordered, as the raw consumers are.
      tuned: { concurrency: TUNED_CONCURRENCY, prefetch: TUNED_CONCURRENCY, ordering: 'none' },
    }),
    cleanup: () => cleanup(kafka, prefix),
  };
  try {
    return await runBroker(bench, options);
  } finally {
    await admin.disconnect();
  }
}

runWhenMain(import.meta.url, 20_000, run);
