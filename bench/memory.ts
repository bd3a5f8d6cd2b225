// The in-memory adapter through the whole pipeline: publish → validate → encode → broker →
// decode → validate → policies → handler. Run: npx tsx --conditions=@tidings/source bench/memory.ts
import { createBus, createMemoryAdapter, defineEvent } from '@tidings/core';
import { z } from 'zod';

export interface BenchResult {
  scenario: string;
  broker: string;
  impl: 'raw' | 'tidings';
  messages: number;
  messageBytes: number;
  msgsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

const Reading = defineEvent({
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

const JsonReading = defineEvent({
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

function reading(seq: number) {
  // About 256 bytes on the wire (data plus envelope headers are larger; the body is ~150 bytes).
  return { sensorId: `sensor-${seq % 64}`, seq, value: seq * 0.5, unit: 'celsius', note: 'n'.repeat(64) };
}

async function throughput(
  messages: number,
  contract: typeof Reading | typeof JsonReading,
  label: string,
): Promise<BenchResult> {
  const bus = createBus({
    source: 'bench',
    adapter: createMemoryAdapter({ maxQueuedRecords: 1_000 }),
  });
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  bus.subscribe(contract as typeof Reading, { group: 'bench', concurrency: 64, ordering: 'none' }, () => {
    if (++handled === messages) done();
  });
  await bus.start();
  const started = performance.now();
  const inFlight = 256;
  let next = 0;
  const workers = Array.from({ length: inFlight }, async () => {
    while (next < messages) {
      const seq = next++;
      await bus.publish(contract as typeof Reading, reading(seq));
    }
  });
  await Promise.all(workers);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await bus.stop();
  return {
    scenario: label,
    broker: 'memory',
    impl: 'tidings',
    messages,
    messageBytes: 256,
    msgsPerSec: Math.round(messages / seconds),
    p50Ms: null,
    p99Ms: null,
  };
}

export async function run(options: { messages: number }): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  // Warm the JIT up before measuring.
  await throughput(Math.min(20_000, options.messages), Reading, 'warmup');
  results.push(await throughput(options.messages, Reading, 'pipeline-zod'));
  results.push(await throughput(options.messages, JsonReading, 'pipeline-json-schema'));
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const index = process.argv.indexOf('--messages');
  const messages = index === -1 ? 200_000 : Number(process.argv[index + 1]);
  const results = await run({ messages });
  console.table(results);
  console.log(JSON.stringify(results));
}
