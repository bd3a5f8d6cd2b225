// Redis Streams: ioredis as a skilled user writes it for throughput (XADD, which ioredis pipelines on
// one connection when many are in flight; a consumer group read with XREADGROUP COUNT n BLOCK, each
// reply acknowledged with one XACK, which is already a batch consumer) beside the same work through
// Tidings on the Redis Streams adapter, with its defaults and tuned. The raw consume-batch row reads
// BATCH_SIZE entries per XREADGROUP, its consume row READ_COUNT. The driver (lib/driver.ts) runs
// the scenarios.
//
// What the raw lane does not do and Tidings does: validate the event against its schema when it is
// published and again when it is received, build the CloudEvents envelope (id, type, source, time,
// content type and the trace context headers) and decode it back, track each delivery so that a
// crashed consumer's entries are claimed again, and run each delivery through the default policies
// (retry with backoff, dead letter, handler timeout). The raw lane does store an id and a type
// field beside the body and parses the JSON in its handler, so that the entries are alike.
//
// Run alone: npx tsx bench/redis.ts [--messages N] [--rounds N] [--quick]   (after `npm run build`)
import { randomUUID } from 'node:crypto';
import { createRedisStreamsAdapter } from '@tidings/adapter-redis-streams';
import { Redis } from 'ioredis';
import { runWhenMain } from './lib/cli';
import { BATCH_SIZE, type DriverOptions, type Lane, type LaneConsumer, runBroker } from './lib/driver';
import { BENCH_EVENT_TYPE, type BenchEvent } from './lib/event';
import type { BenchResult } from './lib/result';
import { createTidingsLanes } from './lib/tidings-lane';

const URL = 'redis://127.0.0.1:6379';
/** Entries per XREADGROUP of the raw consumer, and handlers a tuned Tidings subscription runs at once. */
const READ_COUNT = 64;
/** How long XREADGROUP blocks: the adapter's default. */
const BLOCK_MS = 2_000;
/** Well below the thousands of publishes a second that either lane reaches here. */
const E2E_RATE = 500;

/** Entries as XREADGROUP returns them in buffer mode: [stream, [id, [field, value, ...]][]][]. */
type StreamReply = [Buffer, [Buffer, Buffer[]][]][] | null;

/** The value of `field` in an entry's flat field/value list. */
function field(fields: readonly Buffer[], name: string): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === name) return fields[i + 1];
  return undefined;
}

function rawLane(prefix: string): Lane<'raw'> {
  const redis = new Redis(URL, { lazyConnect: true });
  const readers = new Set<Redis>();
  /**
   * A consumer of group `bench` on `stream` from its start: XREADGROUP of up to `count` entries,
   * `onEvents` with the decoded bodies of each reply, then one XACK for the reply's entries.
   */
  const read = async (
    stream: string,
    count: number,
    onEvents: (events: BenchEvent[]) => void,
  ): Promise<LaneConsumer> => {
    await redis.xgroup('CREATE', stream, 'bench', '0', 'MKSTREAM');
    // XREADGROUP blocks its connection: a reader of its own, as the docs advise.
    const reader = new Redis(URL);
    readers.add(reader);
    let stopping = false;
    const reading = (async () => {
      while (!stopping) {
        const reply = (await reader
          .xreadgroupBuffer(
            'GROUP',
            'bench',
            'raw',
            'COUNT',
            count,
            'BLOCK',
            BLOCK_MS,
            'STREAMS',
            stream,
            '>',
          )
          .catch((error: unknown) => {
            if (stopping) return null;
            throw error;
          })) as StreamReply;
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) continue;
        const events: BenchEvent[] = [];
        for (const [, fields] of entries) {
          const body = field(fields, 'body');
          if (body !== undefined) events.push(JSON.parse(body.toString()) as BenchEvent);
        }
        onEvents(events);
        await redis.xack(stream, 'bench', ...entries.map(([id]) => id));
      }
    })();
    return {
      async stop() {
        stopping = true;
        // Ends the blocked read at once instead of after BLOCK_MS.
        reader.disconnect();
        readers.delete(reader);
        await reading;
      },
    };
  };
  return {
    impl: 'raw',
    name: 'ioredis',
    async open() {
      await redis.connect();
    },
    async prepare(name) {
      const stream = `${prefix}:raw:${name}`;
      return {
        async publish(event) {
          await redis.xadd(
            stream,
            '*',
            'id',
            randomUUID(),
            'type',
            BENCH_EVENT_TYPE,
            'body',
            JSON.stringify(event),
          );
        },
        consume: (onEvent) =>
          read(stream, READ_COUNT, (events) => {
            for (const event of events) onEvent(event);
          }),
        consumeBatch: (onEvents) => read(stream, BATCH_SIZE, onEvents),
      };
    },
    async close() {
      for (const reader of readers) reader.disconnect();
      await redis.quit();
    },
  };
}

/** Deletes every key of the run: both lanes' streams, and what the adapter keeps beside its own. */
async function deleteMatching(pattern: string): Promise<void> {
  const redis = new Redis(URL);
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

/** Raw ioredis and Tidings on the local server; see lib/driver.ts for the scenarios. */
export async function run(options: DriverOptions): Promise<BenchResult[]> {
  const prefix = `bench-redis-${Date.now().toString(36)}`;
  return runBroker(
    {
      broker: 'redis',
      e2eRate: E2E_RATE,
      raw: [rawLane(prefix)],
      baseline: 'ioredis',
      tidings: createTidingsLanes({
        adapter: () => createRedisStreamsAdapter({ connection: URL, blockMs: BLOCK_MS }),
        topic: (name) => `${prefix}:tidings:${name}`,
        // Unordered, as the raw consumer is.
        tuned: { concurrency: READ_COUNT, prefetch: READ_COUNT, ordering: 'none' },
      }),
      cleanup: () => deleteMatching(`*${prefix}*`),
    },
    options,
  );
}

runWhenMain(import.meta.url, 20_000, run);
