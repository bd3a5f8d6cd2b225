// NATS JetStream: nats.js as a skilled user writes it for throughput (a stream, js.publish awaiting
// the publish ack with many in flight, a durable pull consumer read with consume() pulling PREFETCH
// ahead and explicit acks) beside the same work through Tidings on the NATS adapter, with its
// defaults and tuned. The raw consume-batch row pulls with fetch({ max_messages: BATCH_SIZE }) from a
// consumer whose ack policy is `all`, and acks the last message of each batch, which acks the batch.
// Each lane has a stream of its own, on file storage. The driver (lib/driver.ts) runs the scenarios.
//
// What the raw lane does not do and Tidings does: validate the event against its schema when it is
// published and again when it is received, build the CloudEvents envelope (id, type, source, time,
// content type and the trace context headers) and decode it back, and run each delivery through the
// default policies (retry with backoff, dead letter, handler timeout with in-progress acks). The raw
// lane does send a message id (Nats-Msg-Id, so the server deduplicates as it does for Tidings) and
// a type header, and parses the JSON in its handler, so that the messages are alike.
//
// Run alone: npx tsx bench/nats.ts [--messages N] [--rounds N] [--quick]   (after `npm run build`)
import { randomUUID } from 'node:crypto';
import { createNatsAdapter } from '@tidings/adapter-nats';
import {
  AckPolicy,
  type ConsumerMessages,
  connect,
  DeliverPolicy,
  headers,
  type JsMsg,
  type NatsConnection,
} from 'nats';
import { runWhenMain } from './lib/cli';
import { BATCH_SIZE, type DriverOptions, type Lane, runBroker } from './lib/driver';
import { BENCH_EVENT_TYPE, type BenchEvent } from './lib/event';
import type { BenchResult } from './lib/result';
import { createTidingsLanes } from './lib/tidings-lane';

const SERVERS = '127.0.0.1:4222';
/** Messages a raw consumer pulls ahead (`max_messages`), and handlers a tuned Tidings subscription runs at once. */
const PREFETCH = 64;
/** Well below the few thousand acknowledged publishes a second that either lane reaches here. */
const E2E_RATE = 500;
/** How long a fetch waits for a full batch (nats.js's least): only a tail shorter than a batch waits. */
const FETCH_EXPIRES_MS = 1_000;

function rawLane(id: string): Lane<'raw'> {
  const stream = `BENCH_RAW_${id}`;
  const subjects = `bench-raw-${id}`;
  let nc: NatsConnection | undefined;

  return {
    impl: 'raw',
    name: 'nats.js',
    async open() {
      nc = await connect({ servers: SERVERS });
      await (await nc.jetstreamManager()).streams.add({ name: stream, subjects: [`${subjects}.>`] });
    },
    async prepare(name) {
      if (nc === undefined) throw new Error('open the lane first');
      const js = nc.jetstream();
      const jsm = await nc.jetstreamManager();
      const subject = `${subjects}.${name}`;
      return {
        async publish(event) {
          const h = headers();
          h.set('type', BENCH_EVENT_TYPE);
          await js.publish(subject, JSON.stringify(event), { msgID: randomUUID(), headers: h });
        },
        async consume(onEvent) {
          const durable = `consume-${name}`;
          await jsm.consumers.add(stream, {
            durable_name: durable,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            filter_subject: subject,
          });
          // The callback form: the handler is synchronous, and it skips an async iterator's turn per message.
          const messages = await (await js.consumers.get(stream, durable)).consume({
            max_messages: PREFETCH,
            callback: (message) => {
              onEvent(message.json<BenchEvent>());
              message.ack();
            },
          });
          return {
            async stop() {
              await messages.close();
              await jsm.consumers.delete(stream, durable);
            },
          };
        },
        async consumeBatch(onEvents) {
          const durable = `batch-${name}`;
          await jsm.consumers.add(stream, {
            durable_name: durable,
            // An ack acknowledges every message before it too: one ack per batch.
            ack_policy: AckPolicy.All,
            deliver_policy: DeliverPolicy.All,
            filter_subject: subject,
          });
          const consumer = await js.consumers.get(stream, durable);
          let stopping = false;
          let batch: ConsumerMessages | undefined;
          const reading = (async () => {
            while (!stopping) {
              batch = await consumer.fetch({ max_messages: BATCH_SIZE, expires: FETCH_EXPIRES_MS });
              const events: BenchEvent[] = [];
              let last: JsMsg | undefined;
              for await (const message of batch) {
                events.push(message.json<BenchEvent>());
                last = message;
              }
              if (last === undefined) continue;
              onEvents(events);
              last.ack();
            }
          })();
          return {
            async stop() {
              stopping = true;
              // Ends the pending fetch at once instead of after FETCH_EXPIRES_MS.
              batch?.stop();
              await reading;
              await jsm.consumers.delete(stream, durable);
            },
          };
        },
      };
    },
    async close() {
      if (nc === undefined) return;
      await (await nc.jetstreamManager()).streams.delete(stream);
      await nc.close();
    },
  };
}

async function deleteStream(name: string): Promise<void> {
  const nc = await connect({ servers: SERVERS });
  try {
    await (await nc.jetstreamManager()).streams.delete(name);
  } finally {
    await nc.close();
  }
}

/** Raw nats.js and Tidings on the local server; see lib/driver.ts for the scenarios. */
export async function run(options: DriverOptions): Promise<BenchResult[]> {
  const id = Date.now().toString(36).toUpperCase();
  const prefix = `bench-tidings-${id}`;
  const stream = `BENCH_TIDINGS_${id}`;
  return runBroker(
    {
      broker: 'nats',
      e2eRate: E2E_RATE,
      raw: [rawLane(id)],
      baseline: 'nats.js',
      tidings: createTidingsLanes({
        adapter: () => createNatsAdapter({ servers: SERVERS, prefix, stream: { name: stream } }),
        topic: (name) => name,
        // Unordered, as the raw consumer is; the default policies stay on.
        tuned: { concurrency: PREFETCH, prefetch: PREFETCH, ordering: 'none' },
      }),
      // Both Tidings lanes share the stream: deleted once, after both have closed.
      cleanup: () => deleteStream(stream),
    },
    options,
  );
}

runWhenMain(import.meta.url, 20_000, run);
