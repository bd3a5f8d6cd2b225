// The PostgreSQL outbox: how fast events are written into it (in the writer's transactions) and
// how fast a relay moves them from PostgreSQL to a broker (claim a batch with SKIP LOCKED, publish
// it with one adapter call, mark it sent, commit). 1 KiB JSON events over 64 keys. The relay runs
// once with its defaults and once tuned for throughput (bigger batches, four in flight, sent rows
// deleted at once). Each figure is the median of the rounds.
//
// Run alone: npx tsx --conditions=@tidings/source bench/outbox.ts [--messages N] [--rounds N] [--quick]
//   [--brokers memory,rabbitmq,nats,redis,kafka]
// It needs PostgreSQL and the brokers (bash tools/services.sh); it drops the schema and deletes the
// queues and streams it makes. 'memory' shows the PostgreSQL side alone (a broker that costs ~0).
import {
  type BrokerAdapter,
  batchEntry,
  createBus,
  createOutboxRelay,
  type OutboxRelayOptions,
} from '@tidings/core';
import { createPostgresOutbox, type OutboxRetention } from '@tidings/outbox-postgres';
import {
  type BrokerFixture,
  kafkaFixture,
  memoryFixture,
  natsFixture,
  rabbitmqFixture,
  redisStreamsFixture,
} from '../packages/outbox-postgres/test/support/brokers';
import { createPool, dropSchema, requirePostgres } from '../packages/outbox-postgres/test/support/postgres';
import { interceptPublish } from '../packages/outbox-postgres/test/support/switchable-adapter';
import { benchContract, benchEvent, MESSAGE_BYTES } from './lib/event';
import { type BenchOptions, type BenchResult, throughputRow } from './lib/result';

const PER_TRANSACTION = 100;

const brokers: Record<string, () => BrokerFixture> = {
  memory: memoryFixture,
  rabbitmq: rabbitmqFixture,
  nats: natsFixture,
  redis: redisStreamsFixture,
  kafka: kafkaFixture,
};

interface Variant {
  readonly scenario: string;
  readonly relay: Pick<OutboxRelayOptions, 'batchSize' | 'concurrency'>;
  readonly retention: OutboxRetention;
}

const variants: readonly Variant[] = [
  { scenario: 'outbox-relay', relay: {}, retention: {} },
  { scenario: 'outbox-relay-tuned', relay: { batchSize: 500, concurrency: 4 }, retention: { maxAgeMs: 0 } },
];

/** An adapter that resolves `done` once `total` records went through it. */
function counting(inner: BrokerAdapter, total: number): { adapter: BrokerAdapter; done: Promise<void> } {
  let count = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const adapter = interceptPublish(inner, async (records, next) => {
    await next(records);
    count += records.length;
    if (count >= total) finish();
  });
  return { adapter, done };
}

/** One round on one broker: write `messages` events, then relay them with each variant. */
async function round(fixture: BrokerFixture, messages: number, schema: string, index: number) {
  // Topic and group carry the fixture's namespace, by which its cleanup finds them (Kafka, Redis).
  const namespace = fixture.namespace ?? 'bench';
  const OrderPlaced = benchContract(`${namespace}.outbox.order`);
  const pool = createPool({ max: 8 });
  const rates = new Map<string, number>();
  const writer = createBus({ source: 'bench', adapter: fixture.createAdapter() });
  // Brokers that drop records nobody listens for (RabbitMQ) need a bound queue: subscribe a group
  // and pause it, so that the records are stored but no consumer competes for the two cores.
  const parked = writer.subscribe(
    OrderPlaced,
    { group: `${namespace}-bench-${index}`, startFrom: 'earliest' },
    () => undefined,
  );
  await writer.start();
  parked.pause();
  try {
    for (const variant of variants) {
      const table = `outbox_${index}_${variant.scenario.replaceAll('-', '_')}`;
      const outbox = createPostgresOutbox({ pool, bus: writer, schema, table, retention: variant.retention });
      await outbox.migrate();

      const writeStarted = performance.now();
      for (let seq = 0; seq < messages; seq += PER_TRANSACTION) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const count = Math.min(PER_TRANSACTION, messages - seq);
          await outbox.writeBatch(
            client,
            Array.from({ length: count }, (_, i) => batchEntry(OrderPlaced, benchEvent(seq + i))),
          );
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      }
      const writeSeconds = (performance.now() - writeStarted) / 1000;
      rates.set('outbox-write', Math.max(rates.get('outbox-write') ?? 0, messages / writeSeconds));

      const { adapter, done } = counting(fixture.createAdapter(), messages);
      await adapter.connect();
      const relay = createOutboxRelay({ store: outbox, adapter, ...variant.relay });
      const started = performance.now();
      await relay.start();
      await done;
      const seconds = (performance.now() - started) / 1000;
      await relay.stop();
      await adapter.close();
      rates.set(variant.scenario, messages / seconds);
    }
  } finally {
    await writer.stop();
    await pool.end();
  }
  return rates;
}

/** Measures the outbox on each broker; see the top of this file. */
export async function run(
  options: BenchOptions & { readonly rounds?: number; readonly brokers?: readonly string[] },
): Promise<BenchResult[]> {
  const rounds = options.rounds ?? (options.quick ? 1 : 3);
  const names = options.brokers ?? ['memory', 'rabbitmq', 'nats', 'redis', 'kafka'];
  const results: BenchResult[] = [];
  const admin = createPool({ max: 1 });
  await requirePostgres(admin);
  const schema = `tidings_bench_${Date.now().toString(36)}`;
  try {
    for (const name of names) {
      const make = brokers[name];
      if (make === undefined)
        throw new Error(`unknown broker ${name}; known: ${Object.keys(brokers).join(', ')}`);
      const fixture = make();
      await fixture.require?.();
      const measured: Map<string, number>[] = [];
      try {
        for (let index = 0; index < rounds; index++)
          measured.push(await round(fixture, options.messages, schema, index));
      } finally {
        await fixture.cleanup?.();
      }
      for (const scenario of ['outbox-write', ...variants.map((v) => v.scenario)]) {
        results.push(
          throughputRow(
            { scenario, broker: `postgres→${name}`, impl: 'tidings', messageBytes: MESSAGE_BYTES },
            options.messages,
            measured.map((m) => m.get(scenario)!),
          ),
        );
      }
    }
  } finally {
    await dropSchema(admin, schema);
    await admin.end();
  }
  return results;
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const started = performance.now();
  const quick = process.argv.includes('--quick');
  const rounds = argument('rounds');
  const brokerList = argument('brokers');
  run({
    messages: Number(argument('messages') ?? (quick ? 2_000 : 10_000)),
    quick,
    ...(rounds === undefined ? {} : { rounds: Number(rounds) }),
    ...(brokerList === undefined ? {} : { brokers: brokerList.split(',') }),
  }).then(
    (results) => {
      console.table(results);
      console.log(JSON.stringify(results, null, 2));
      console.log(`bench/outbox.ts took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
