// The in-memory adapter: the full pipeline (publish → validate → encode → broker → decode →
// validate → policies → handler) beside the bare adapter moving pre-encoded records, zod beside
// JSON Schema, and the cost of 1 % poison events going through retry and dead-letter.
// Run alone: npx tsx bench/memory.ts [--messages N]   (after `npm run build`)
import { createBus, createMemoryAdapter, defineEvent } from '@tidings/core';
import type { Settlement } from '@tidings/core/adapter';
import { z } from 'zod';
import { bounded, countdown } from './lib/load';
import { type BenchOptions, type BenchResult, type Impl, throughputRow } from './lib/result';

const NOTE = 'n'.repeat(150);

const ReadingZod = defineEvent({
  type: 'sensor.reading',
  schema: z.object({
    sensorId: z.string(),
    seq: z.number().int(),
    value: z.number(),
    unit: z.string(),
    note: z.string(),
  }),
  key: (data) => data.sensorId,
});

const ReadingJson = defineEvent({
  type: 'sensor.reading',
  schema: {
    type: 'object',
    properties: {
      sensorId: { type: 'string' },
      seq: { type: 'integer' },
      value: { type: 'number' },
      unit: { type: 'string' },
      note: { type: 'string' },
    },
    required: ['sensorId', 'seq', 'value', 'unit', 'note'],
    additionalProperties: false,
  },
  key: (data) => data.sensorId,
});

type Reading = { sensorId: string; seq: number; value: number; unit: string; note: string };

// About 256 bytes of JSON data per event.
const reading = (seq: number): Reading => ({
  sensorId: `sensor-${seq % 64}`,
  seq,
  value: seq * 0.5,
  unit: 'celsius',
  note: NOTE,
});
const MESSAGE_BYTES = Buffer.byteLength(JSON.stringify(reading(123_456)));

// Publishers in flight at once: enough to keep the consumer busy, few enough that the broker's
// queue stays short (a long queue measures the garbage collector, not the pipeline).
const PUBLISHERS = 64;

/** The longest a round may take before the run fails instead of hanging. */
const TIMEOUT_MS = 120_000;
const drive = (messages: number, publish: (seq: number) => Promise<unknown>) =>
  bounded(messages, PUBLISHERS, publish);

async function tidingsRound(
  messages: number,
  contract: typeof ReadingZod,
  poisonEvery: number,
): Promise<number> {
  const bus = createBus({
    source: 'bench',
    adapter: createMemoryAdapter({ maxQueuedRecords: 2_000 }),
    subscriptionDefaults: { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } },
  });
  // Every event ends once: handled, or dead-lettered after its retries.
  const ends = countdown(messages, TIMEOUT_MS, 'memory round');
  bus.subscribe(contract, { group: 'bench', concurrency: 64, ordering: 'none' }, (event) => {
    if (poisonEvery > 0 && event.data.seq % poisonEvery === 0) throw new Error('poison');
    ends.hit();
  });
  if (poisonEvery > 0) {
    bus.subscribe(contract, { group: 'dlq', topic: bus.deadLetterTopicOf(contract, 'bench') }, () =>
      ends.hit(),
    );
  }
  await bus.start();
  const started = performance.now();
  await drive(messages, (seq) => bus.publish(contract, reading(seq)));
  await ends.done;
  const seconds = (performance.now() - started) / 1000;
  await bus.stop();
  return messages / seconds;
}

async function rawRound(messages: number): Promise<number> {
  const adapter = createMemoryAdapter({ maxQueuedRecords: 2_000 });
  await adapter.connect();
  const ends = countdown(messages, TIMEOUT_MS, 'memory round');
  const ack: Settlement = { type: 'ack' };
  await adapter.subscribe(
    {
      group: 'bench',
      topics: ['raw'],
      concurrency: 64,
      prefetch: 64,
      ordering: 'none',
      startFrom: 'latest',
      maxAttempts: 1,
      handlerTimeoutMs: 0,
    },
    async (record) => {
      JSON.parse(Buffer.from(record.body).toString('utf8'));
      ends.hit();
      return ack;
    },
  );
  const started = performance.now();
  await drive(messages, (seq) =>
    adapter.publish([
      {
        topic: 'raw',
        key: `sensor-${seq % 64}`,
        headers: {},
        body: Buffer.from(JSON.stringify(reading(seq))),
      },
    ]),
  );
  await ends.done;
  const seconds = (performance.now() - started) / 1000;
  await adapter.close();
  return messages / seconds;
}

function row(scenario: string, impl: Impl, messages: number, rates: number[]): BenchResult {
  return throughputRow({ scenario, broker: 'memory', impl, messageBytes: MESSAGE_BYTES }, messages, rates);
}

export async function run(options: BenchOptions): Promise<BenchResult[]> {
  const { messages } = options;
  const rounds = options.quick ? 1 : 3;
  // Warm the JIT up on every path before measuring.
  await tidingsRound(Math.min(20_000, messages), ReadingZod, 0);
  await tidingsRound(Math.min(20_000, messages), ReadingJson as unknown as typeof ReadingZod, 0);
  await tidingsRound(Math.min(20_000, messages), ReadingZod, 100);
  await rawRound(Math.min(20_000, messages));

  const rates = { raw: [] as number[], zod: [] as number[], json: [] as number[], poison: [] as number[] };
  // Alternate the variants round by round, so that machine noise hits them all alike.
  for (let i = 0; i < rounds; i++) {
    rates.raw.push(await rawRound(messages));
    rates.zod.push(await tidingsRound(messages, ReadingZod, 0));
    rates.json.push(await tidingsRound(messages, ReadingJson as unknown as typeof ReadingZod, 0));
    rates.poison.push(await tidingsRound(messages, ReadingZod, 100));
  }
  return [
    row('pipeline', 'raw', messages, rates.raw),
    row('pipeline-zod', 'tidings', messages, rates.zod),
    row('pipeline-json-schema', 'tidings', messages, rates.json),
    row('poison-1pct', 'tidings', messages, rates.poison),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const index = process.argv.indexOf('--messages');
  const messages = index === -1 ? 200_000 : Number(process.argv[index + 1]);
  const results = await run({ messages, quick: false });
  console.table(results);
}
