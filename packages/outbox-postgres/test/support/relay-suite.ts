import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  type BrokerAdapter,
  type Bus,
  type BusOptions,
  batchEntry,
  createBus,
  createMemoryAdapter,
  createOutboxRelay,
  type Middleware,
  type OutboxRelay,
  type OutboxRelayOptions,
} from '@tidings/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresInbox, createPostgresOutbox, type PostgresOutbox } from '../../src/index';
import type { BrokerFixture } from './brokers';
import {
  Arrivals,
  collectTicks,
  firstArrivals,
  type TickContract,
  tickContract,
  upTo,
  waitUntil,
} from './events';
import { readJournal } from './journal-adapter';
import { usePostgres } from './postgres';
import { switchable } from './switchable-adapter';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Writes `perKey` ticks for each of `keys` keys, `perTransaction` events to a transaction. */
async function writeTicks(
  pool: pg.Pool,
  outbox: PostgresOutbox,
  Tick: TickContract,
  options: { keys: number; perKey: number; perTransaction: number; writers?: number },
): Promise<void> {
  const events = upTo(options.perKey).flatMap((seq) =>
    upTo(options.keys).map((k) => ({ key: `k${k}`, seq })),
  );
  const writers = options.writers ?? 1;
  // Each writer owns some keys, so that a key's events commit in sequence order.
  await Promise.all(
    upTo(writers).map(async (writer) => {
      const mine = events.filter((e) => Number(e.key.slice(1)) % writers === writer);
      for (let i = 0; i < mine.length; i += options.perTransaction) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await outbox.writeBatch(
            client,
            mine.slice(i, i + options.perTransaction).map((data) => batchEntry(Tick, data)),
          );
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      }
    }),
  );
}

/** Waits for `promise`; if it has not settled within `ms`, fails with what `diagnose` finds then. */
async function within(ms: number, promise: Promise<void>, diagnose: () => Promise<string>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  try {
    if ((await Promise.race([promise, late])) === 'late') throw new Error(await diagnose());
  } finally {
    clearTimeout(timer);
  }
}

function expectKeyOrder(arrivals: Arrivals, keys: number, perKey: number): void {
  for (let k = 0; k < keys; k++) {
    expect(firstArrivals(arrivals.byKey.get(`k${k}`) ?? []), `key k${k}`).toEqual(upTo(perKey));
  }
}

/** A relay child process, with a way to wait for the lines it prints. */
function startRelayProcess(env: Record<string, string>): {
  child: ChildProcess;
  line(text: string): Promise<void>;
} {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@tidings/source', join('test', 'fixtures', 'relay-process.ts')],
    { cwd: packageRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const seen: string[] = [];
  const waiters: { text: string; resolve: () => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    seen.push(text);
    for (const waiter of waiters.filter((w) => w.text === text)) waiter.resolve();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    line: (text) =>
      seen.includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ text, resolve });
            void exited.then((code) => {
              if (!seen.includes(text)) {
                reject(new Error(`relay process exited (${code}) before printing ${text}:\n${stderr}`));
              }
            });
          }),
  };
}

/**
 * The outbox suite, against one broker: the done-when scenarios of the outbox issue. Each test
 * has its own outbox table, topic and groups; the schema is dropped afterwards.
 */
export function describeOutboxSuite(fixture: BrokerFixture): void {
  describe(`outbox relay on PostgreSQL, publishing to ${fixture.name}`, () => {
    const db = usePostgres(fixture.name.replace(/\W/g, '_'));
    const { schema } = db;
    const namespace =
      fixture.namespace ?? `tob-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    let pool: pg.Pool;
    let counter = 0;

    beforeAll(async () => {
      pool = db.pool;
      await fixture.require?.();
    });

    afterAll(async () => {
      await fixture.cleanup?.();
    });

    const topic = (label: string) => `${namespace}-${label}-${++counter}`;
    const group = (label: string) => `${namespace}-g-${label}-${++counter}`;
    const adapter = (): BrokerAdapter => {
      const made = fixture.createAdapter();
      db.defer(() => made.close());
      return made;
    };
    const bus = (options: Partial<BusOptions> = {}): Bus => {
      const made = createBus({
        source: 'outbox-suite',
        adapter: adapter(),
        subscriptionDefaults: { retry: { initialDelayMs: 10, maxDelayMs: 200, maxAttempts: 10 } },
        ...options,
      });
      db.defer(() => made.stop());
      return made;
    };
    const nextTable = () => `outbox_${++counter}`;
    const outbox = async (writer: Bus, table = nextTable()): Promise<PostgresOutbox> => {
      const made = createPostgresOutbox({ pool, bus: writer, schema, table });
      await made.migrate();
      return made;
    };
    const relay = (options: OutboxRelayOptions): OutboxRelay => {
      const made = createOutboxRelay({ pollIntervalMs: 200, ...options });
      db.defer(() => made.stop());
      return made;
    };
    /** A started consumer of `Tick` in a group of its own, and what it received. */
    const consume = async (Tick: TickContract, label: string, options: Partial<BusOptions> = {}) => {
      const consumer = bus(options);
      const arrivals = collectTicks(consumer, Tick, group(label));
      await consumer.start();
      return { consumer, arrivals };
    };

    it('publishes nothing from a rolled-back transaction', async () => {
      const Tick = tickContract(topic('rollback'));
      const { consumer, arrivals } = await consume(Tick, 'rollback');
      const store = await outbox(consumer);
      await pool.query(`CREATE TABLE "${schema}".orders_${counter} (id text PRIMARY KEY)`);

      const client = await pool.connect();
      let doomed: string;
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO "${schema}".orders_${counter} VALUES ('o-1')`);
        doomed = (await store.write(client, Tick, { key: 'k', seq: 0 })).id;
        await client.query('ROLLBACK');
        await client.query('BEGIN');
        await client.query(`INSERT INTO "${schema}".orders_${counter} VALUES ('o-2')`);
        await store.write(client, Tick, { key: 'k', seq: 1 });
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await relay({ store, bus: consumer }).start();

      await arrivals.waitForDistinct(1);
      // Per-key order: had the rolled-back event (seq 0) been published, it would have come first.
      expect(arrivals.byKey.get('k')).toEqual([1]);
      expect(arrivals.ids).not.toContain(doomed);
      const rows = await pool.query(`SELECT count(*)::int AS n FROM ${store.table}`);
      expect(rows.rows[0].n).toBe(1);
    });

    it('publishes every committed event after the relay process is killed mid-batch and restarted', async () => {
      const Tick = tickContract(topic('sigkill'));
      // The in-memory broker dies with the relay process: there, a file journal stands in for it.
      const journal =
        fixture.childName !== undefined ? undefined : join(tmpdir(), `tidings-journal-${randomUUID()}.jsonl`);
      if (journal !== undefined) db.defer(() => rm(journal, { force: true }));
      let arrivals: Arrivals | undefined;
      let writer: Bus;
      if (journal === undefined) {
        writer = bus();
        arrivals = collectTicks(writer, Tick, group('sigkill'));
        await writer.start();
      } else {
        writer = createBus({ source: 'outbox-suite', adapter: createMemoryAdapter() });
      }
      const table = nextTable();
      const store = await outbox(writer, table);
      const keys = 30;
      const perKey = 20;
      await writeTicks(pool, store, Tick, { keys, perKey, perTransaction: 10 });
      const env = {
        OUTBOX_SCHEMA: schema,
        OUTBOX_TABLE: table,
        OUTBOX_BROKER: fixture.childName ?? `journal:${journal}`,
        OUTBOX_BATCH_SIZE: '40',
      };

      const first = startRelayProcess({ ...env, OUTBOX_STALL_AT: '3' });
      db.defer(async () => first.child.kill('SIGKILL'));
      await first.line('STALLED');
      const killed = new Promise((resolve) => first.child.once('exit', resolve));
      first.child.kill('SIGKILL');
      await killed;
      // The killed process's claim died with its connection: its batch is pending again.
      const { pending } = await store.stats();
      expect(pending).toBe(keys * perKey - 80);

      const second = startRelayProcess({ ...env, OUTBOX_EXIT_DRAINED: '1' });
      db.defer(async () => second.child.kill('SIGKILL'));
      await second.line('DRAINED');

      const ids = (await pool.query<{ event_id: string }>(`SELECT event_id FROM ${store.table}`)).rows.map(
        (row) => row.event_id,
      );
      expect(ids).toHaveLength(keys * perKey);
      let received: Arrivals;
      if (journal !== undefined) {
        received = new Arrivals();
        for (const entry of await readJournal(journal))
          received.add(entry.headers.ce_id!, JSON.parse(entry.body));
      } else {
        received = arrivals!;
        await received.waitForDistinct(keys * perKey);
      }
      expect(new Set(received.ids)).toEqual(new Set(ids));
      // Half of the third batch went out before the kill and again after the restart (a broker
      // that deduplicates by event id drops the second copies).
      if (!writer.adapter.capabilities.deduplication) expect(received.duplicates).toBeGreaterThanOrEqual(20);
      expectKeyOrder(received, keys, perKey);
    });

    it('runs three relays at once: every event published, per-key order intact', async () => {
      const Tick = tickContract(topic('three'));
      const { consumer, arrivals } = await consume(Tick, 'three');
      const table = nextTable();
      const store = await outbox(consumer, table);
      const relays = await Promise.all(
        upTo(3).map(async () => {
          // Each relay as a process of its own would have it: its pool, its store, its adapter.
          const own = createPostgresOutbox({
            pool: db.markedPool('relay').pool,
            bus: consumer,
            schema,
            table,
          });
          const made = relay({ store: own, adapter: adapter(), batchSize: 5 });
          await made.start();
          return made;
        }),
      );
      const keys = 24;
      const perKey = 25;
      await writeTicks(pool, store, Tick, { keys, perKey, perTransaction: 3, writers: 4 });
      await arrivals.waitForDistinct(keys * perKey, 60_000);
      expectKeyOrder(arrivals, keys, perKey);
      const published = async () => Promise.all(relays.map(async (r) => (await r.stats()).published));
      // The broker delivers the last batches before their relays have marked them sent.
      await waitUntil('the relays to settle their last batches', async () => {
        const counts = await published();
        return counts.reduce((a, b) => a + b, 0) >= keys * perKey;
      });
      // The three shared the work (a relay that never got a batch would prove nothing).
      expect((await published()).filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
      await waitUntil('the last batches to be marked sent', async () => (await store.stats()).pending === 0);
    });

    it('backs off while the broker is down and catches up with nothing lost', async () => {
      const Tick = tickContract(topic('down'));
      const { consumer, arrivals } = await consume(Tick, 'down');
      const store = await outbox(consumer);
      const { adapter: flaky, control } = switchable(adapter());
      const refusals: number[] = [];
      let fifthRefusal!: () => void;
      const refusedFiveTimes = new Promise<void>((resolve) => {
        fifthRefusal = resolve;
      });
      const relayed = relay({
        store,
        adapter: flaky,
        backoff: { initialDelayMs: 50, maxDelayMs: 1_000, jitter: 0.2 },
        onError: (_error, context) => {
          if (context.during !== 'publish') return;
          refusals.push(performance.now());
          if (refusals.length === 5) fifthRefusal();
        },
      });
      control.down = true;
      await relayed.start();
      const keys = 10;
      const perKey = 20;
      await writeTicks(pool, store, Tick, { keys, perKey, perTransaction: 20 });
      await refusedFiveTimes;

      const stats = await relayed.stats();
      expect(stats.pending).toBe(keys * perKey);
      expect(stats.consecutiveFailures).toBeGreaterThanOrEqual(5);
      // Four pauses of at least 80 % of 50, 100, 200 and 400 ms: a relay hammering the broker
      // would have refused thousands of times by now. (Timers are never early, so this holds under load.)
      expect(refusals[4]! - refusals[0]!).toBeGreaterThanOrEqual(0.8 * (50 + 100 + 200 + 400) - 5);
      // The refused records carry their attempts and the broker's error, for an operator to see.
      const attempts = await pool.query(
        `SELECT max(attempts)::int AS n, max(last_error) AS error FROM ${store.table}`,
      );
      expect(attempts.rows[0]).toMatchObject({
        n: expect.any(Number),
        error: expect.stringContaining('is down'),
      });
      expect(attempts.rows[0].n).toBeGreaterThanOrEqual(5);

      control.down = false;
      await arrivals.waitForDistinct(keys * perKey, 60_000);
      expectKeyOrder(arrivals, keys, perKey);
      // The broker delivers the last batch before the relay has marked it sent.
      await waitUntil('the last batch to be marked sent', async () => (await relayed.stats()).pending === 0);
      expect(await relayed.stats()).toMatchObject({ pending: 0, consecutiveFailures: 0, lagMs: 0 });
    });

    // Only brokers with connections to drop (the in-memory one has none).
    const dropConnections = fixture.dropConnections;
    if (dropConnections !== undefined) {
      it("keeps going when the broker drops the relay's connections", async () => {
        const Tick = tickContract(topic('dropped'));
        const { consumer, arrivals } = await consume(Tick, 'dropped');
        const store = await outbox(consumer);
        const relayAdapter = adapter();
        await relay({
          store,
          adapter: relayAdapter,
          batchSize: 10,
          backoff: { initialDelayMs: 50, maxDelayMs: 1_000 },
        }).start();
        const keys = 10;
        await writeTicks(pool, store, Tick, { keys, perKey: 10, perTransaction: 10 });
        await arrivals.waitForDistinct(keys * 10);

        await dropConnections(relayAdapter);
        const later = upTo(keys).flatMap((k) =>
          upTo(10).map((i) => batchEntry(Tick, { key: `k${k}`, seq: 10 + i })),
        );
        for (let i = 0; i < later.length; i += 10) await store.writeBatch(pool, later.slice(i, i + 10));
        await arrivals.waitForDistinct(keys * 20, 60_000);
        expectKeyOrder(arrivals, keys, 20);
        await waitUntil('the last batch to be marked sent', async () => (await store.stats()).pending === 0);
      });
    }

    it('applies each effect exactly once through the PostgreSQL inbox under forced redelivery', async () => {
      const Tick = tickContract(topic('inbox'));
      const effects = `"${schema}".effects_${++counter}`;
      const inbox = createPostgresInbox({ pool, schema, table: `inbox_${counter}` });
      // First: it makes the schema, when this test runs alone.
      await inbox.migrate();
      await pool.query(`CREATE TABLE ${effects} (event_id text NOT NULL, seq int NOT NULL)`);

      const events = 60;
      let expectedAcks = Number.POSITIVE_INFINITY;
      let acks = 0;
      let skipped = 0;
      let allAcked!: () => void;
      const done = new Promise<void>((resolve) => {
        allAcked = resolve;
      });
      // Settlements per event, kept to say which events are missing if the wait runs out.
      const settled = new Map<number, string[]>();
      const countAcks: Middleware = async (ctx, next) => {
        await next();
        const seq = (ctx.event?.data as { seq?: number } | undefined)?.seq ?? -1;
        const type = ctx.settlement?.type ?? 'ack';
        settled.set(seq, [
          ...(settled.get(seq) ?? []),
          `${type}@${ctx.attempt}${ctx.duplicate ? '(dup)' : ''}`,
        ]);
        if (type !== 'ack') return;
        if (ctx.duplicate) skipped++;
        if (++acks === expectedAcks) allAcked();
      };
      const consumer = bus({ middleware: [countAcks] });
      // Every event is written twice; a broker that deduplicates by event id keeps one copy.
      const copies = consumer.adapter.capabilities.deduplication ? 1 : 2;
      expectedAcks = events * copies;
      // Lose the acknowledgement of every fifth event once: the effect is committed, the broker
      // does not know, and the event comes back.
      const loseAck: Middleware = async (ctx, next) => {
        await next();
        if (ctx.attempt === 1 && !ctx.duplicate && (ctx.event!.data as { seq: number }).seq % 5 === 2) {
          throw new Error('connection lost before the ack (test)');
        }
      };
      consumer.subscribe(
        Tick,
        {
          group: group('inbox'),
          ordering: 'none',
          concurrency: 16,
          middleware: [loseAck],
          startFrom: 'earliest',
        },
        inbox.handle(async (event, client, ctx) => {
          await client.query(`INSERT INTO ${effects} VALUES ($1, $2)`, [event.id, event.data.seq]);
          // Fail every fifth event once after its effect: the transaction rolls it back.
          if (ctx.attempt === 1 && event.data.seq % 5 === 1)
            throw new Error('handler failed after its effect (test)');
        }),
      );
      await consumer.start();
      const store = await outbox(consumer);
      // Every event twice, with the same id, as a relay that crashed before marking would send it.
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        for (let seq = 0; seq < events; seq++) {
          const id = randomUUID();
          const data = { key: `k${seq}`, seq };
          await store.writeBatch(client, [batchEntry(Tick, data, { id }), batchEntry(Tick, data, { id })]);
        }
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await relay({ store, bus: consumer }).start();
      await within(25_000, done, async () => {
        const short = upTo(events).filter(
          (seq) => (settled.get(seq) ?? []).filter((s) => s.startsWith('ack')).length < copies,
        );
        return [
          `${acks} of ${expectedAcks} acknowledgements after 25 s`,
          `events short of ${copies} acks: ${short.map((seq) => `${seq} [${(settled.get(seq) ?? []).join(', ')}]`).join('; ')}`,
          `outbox: ${JSON.stringify(await store.stats())}`,
          `bus: ${JSON.stringify(consumer.health())}`,
        ].join('\n');
      });

      const counts = await pool.query<{ seq: number; n: number }>(
        `SELECT seq, count(*)::int AS n FROM ${effects} GROUP BY seq ORDER BY seq`,
      );
      expect(counts.rows).toEqual(upTo(events).map((seq) => ({ seq, n: 1 })));
      // The second copy of each event was skipped, and so was each redelivery after a lost ack.
      expect(skipped).toBe(events * (copies - 1) + events / 5);
    });
  });
}
