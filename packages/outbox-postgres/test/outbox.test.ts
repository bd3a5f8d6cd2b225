import {
  batchEntry,
  ConfigError,
  createBus,
  createOutboxRelay,
  defineEvent,
  MessageTooLargeError,
  type OutboxRelay,
  ValidationError,
} from '@tidings/core';
import { createTestBus, type TestBus } from '@tidings/core/testing';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPostgresOutbox, outboxMigration, type PostgresOutboxOptions } from '../src/index';
import { collectTicks, firstArrivals, tickContract, upTo, waitUntil } from './support/events';
import { dropSchema, usePostgres } from './support/postgres';
import { interceptPublish } from './support/switchable-adapter';

const db = usePostgres('outbox');
const { schema } = db;
const Tick = tickContract('ticks');
// An event without a key: no order to keep.
const Note = defineEvent({ type: 'outbox.note', topic: 'notes', schema: z.object({ text: z.string() }) });
let counter = 0;
let pool: pg.Pool;

beforeAll(() => {
  pool = db.pool;
});

function testBus(): TestBus {
  const bus = createTestBus();
  db.defer(() => bus.stop());
  return bus;
}

async function newOutbox(options: Partial<PostgresOutboxOptions> = {}) {
  const outbox = createPostgresOutbox({
    pool,
    bus: createBus({ source: 'outbox-test' }),
    schema,
    table: `outbox_${++counter}`,
    ...options,
  });
  await outbox.migrate();
  return outbox;
}

function relay(options: Parameters<typeof createOutboxRelay>[0]): OutboxRelay {
  const made = createOutboxRelay(options);
  db.defer(() => made.stop());
  return made;
}

async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

const keysOf = (records: readonly { record: { key: string | undefined } }[] | undefined) =>
  (records ?? []).map((r) => r.record.key ?? null);

describe('migration', () => {
  it('creates the table and indexes once, even when several processes migrate at once', async () => {
    const options = { pool, bus: createBus({ source: 's' }), schema: `${schema}_m`, table: 'events_out' };
    db.defer(() => dropSchema(pool, `${schema}_m`));
    await Promise.all(upTo(3).map(() => createPostgresOutbox(options).migrate()));
    await createPostgresOutbox(options).migrate();
    const indexes = await pool.query<{ indexname: string }>(
      'SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname',
      [`${schema}_m`, 'events_out'],
    );
    expect(indexes.rows.map((row) => row.indexname)).toEqual([
      'events_out_failed',
      'events_out_pending',
      'events_out_pkey',
      'events_out_sent',
    ]);
  });

  it('is plain SQL for your own migration tool, with the names you choose', () => {
    const sql = outboxMigration({ schema: 'orders', table: 'order_events' });
    expect(sql).toContain('CREATE SCHEMA IF NOT EXISTS "orders";');
    expect(sql).toContain('CREATE TABLE IF NOT EXISTS "orders"."order_events"');
    expect(outboxMigration()).toContain('CREATE TABLE IF NOT EXISTS "public"."tidings_outbox"');
    expect(outboxMigration()).not.toContain('CREATE SCHEMA');
  });

  it('refuses names that are not plain identifiers, naming the field', () => {
    const bus = createBus({ source: 's' });
    expect(() => outboxMigration({ table: 'orders; DROP TABLE x' })).toThrow(ConfigError);
    expect(() => createPostgresOutbox({ pool, bus, schema: 'a"b' })).toThrow(/^schema: /);
    expect(() => createPostgresOutbox({ pool, bus, table: 'x'.repeat(49) })).toThrow(/^table: /);
    expect(() => createPostgresOutbox({ pool, bus, notify: 'n'.repeat(64) })).toThrow(/^notify: /);
    expect(() => createPostgresOutbox({ pool, bus, retention: { maxAgeMs: -1 } })).toThrow(
      /retention.maxAgeMs/,
    );
    // @ts-expect-error: the bus is required
    expect(() => createPostgresOutbox({ pool })).toThrow(/^bus: /);
  });
});

describe('write', () => {
  it('inserts what bus.prepare encodes, in the caller transaction, and validates like publish', async () => {
    const outbox = await newOutbox();
    const written = await inTransaction((client) =>
      outbox.writeBatch(client, [
        batchEntry(Tick, { key: 'a', seq: 1 }),
        batchEntry(Tick, { key: 'b', seq: 2 }, { headers: { origin: 'test' } }),
      ]),
    );
    const rows = await pool.query(
      `SELECT event_id, event_type, topic, key, headers, body, sent_at FROM ${outbox.table} ORDER BY id`,
    );
    expect(rows.rows.map((row) => row.event_id)).toEqual(written.map((event) => event.id));
    expect(rows.rows[0]).toMatchObject({
      event_type: 'outbox.tick',
      topic: 'ticks',
      key: 'a',
      sent_at: null,
    });
    expect(rows.rows[0].headers).toMatchObject({ ce_id: written[0]!.id, ce_type: 'outbox.tick' });
    expect(JSON.parse(rows.rows[0].body.toString())).toEqual({ key: 'a', seq: 1 });
    expect(rows.rows[1].headers.origin).toBe('test');

    await expect(
      // @ts-expect-error: seq must be a number
      inTransaction((client) => outbox.write(client, Tick, { key: 'c', seq: 'x' })),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(await outbox.writeBatch(pool, [])).toEqual([]);
    expect((await outbox.stats()).pending).toBe(2);
  });

  it('rejects an event larger than the bus allows before touching the database', async () => {
    const outbox = await newOutbox({ bus: createBus({ source: 's', maxMessageBytes: 64 }) });
    await expect(outbox.write(pool, Tick, { key: 'k'.repeat(100), seq: 1 })).rejects.toBeInstanceOf(
      MessageTooLargeError,
    );
  });

  it('commits or rolls back with the business data', async () => {
    const outbox = await newOutbox();
    await expect(
      inTransaction(async (client) => {
        await outbox.write(client, Tick, { key: 'a', seq: 1 });
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect((await outbox.stats()).pending).toBe(0);
  });
});

describe('claims', () => {
  it('take the heads of keys first, then their followers, and never a key another claim holds', async () => {
    const outbox = await newOutbox();
    const entries = ['a', 'a', 'b', 'a', undefined, 'c'].map((key, seq) =>
      key === undefined ? batchEntry(Note, { text: 'no key' }) : batchEntry(Tick, { key, seq }),
    );
    await outbox.writeBatch(pool, entries);
    const first = await outbox.claim(3);
    expect(keysOf(first?.records)).toEqual(['a', 'b', null]);
    const second = await outbox.claim(10);
    // 'a' and 'b' are held: only 'c' is free. The third 'a' must not overtake the second.
    expect(keysOf(second?.records)).toEqual(['c']);
    expect(await outbox.claim(10)).toBeUndefined();
    await first!.settle({ sent: first!.records.map((r) => r.id) });
    const third = await outbox.claim(10);
    expect(keysOf(third?.records)).toEqual(['a', 'a']);
    await third!.settle({ sent: [] });
    await second!.settle({ sent: [] });
  });

  it('go back to pending when their holder dies, and record failures for operators', async () => {
    const { pool: claimer, marker } = db.markedPool('claimer');
    const outbox = await newOutbox();
    await outbox.writeBatch(pool, [
      batchEntry(Tick, { key: 'a', seq: 0 }),
      batchEntry(Tick, { key: 'a', seq: 1 }),
    ]);
    const held = await createPostgresOutbox({
      pool: claimer,
      bus: createBus({ source: 's' }),
      schema,
      table: `outbox_${counter}`,
    }).claim(10);
    expect(held?.records).toHaveLength(2);
    expect(await outbox.claim(10)).toBeUndefined();
    // The holder's connection dies (a crash, a network cut): PostgreSQL ends its transaction.
    await pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      marker,
    ]);
    await expect(held!.settle({ sent: held!.records.map((r) => r.id) })).rejects.toThrow();
    const again = await outbox.claim(10);
    expect(again?.records.map((r) => r.id)).toEqual(held!.records.map((r) => r.id));

    await again!.settle({
      sent: [],
      failed: [{ id: again!.records[0]!.id, error: new MessageTooLargeError(10, 5) }],
      error: new Error('broker unreachable'),
    });
    const rows = await pool.query(
      `SELECT attempts, last_error, failed_at IS NOT NULL AS failed FROM ${outbox.table} ORDER BY id`,
    );
    expect(rows.rows).toEqual([
      {
        attempts: 1,
        last_error: 'MessageTooLargeError: message of 10 bytes exceeds the limit of 5 bytes',
        failed: true,
      },
      { attempts: 1, last_error: 'Error: broker unreachable', failed: false },
    ]);
    expect(await outbox.stats()).toMatchObject({ pending: 1, failed: 1 });
  });
});

describe('stats and retention', () => {
  it('measure the lag with the database clock', async () => {
    const outbox = await newOutbox();
    expect(await outbox.stats()).toEqual({ pending: 0, failed: 0, lagMs: 0 });
    await outbox.write(pool, Tick, { key: 'a', seq: 0 });
    await pool.query(`UPDATE ${outbox.table} SET created_at = now() - interval '5 seconds'`);
    const { lagMs, pending } = await outbox.stats();
    expect(pending).toBe(1);
    expect(lagMs).toBeGreaterThanOrEqual(5_000);
    expect(lagMs).toBeLessThan(60_000);
  });

  it('keep sent records for their age and count, or not at all', async () => {
    const sendAll = async (outbox: Awaited<ReturnType<typeof newOutbox>>) => {
      const claim = await outbox.claim(100);
      await claim!.settle({ sent: claim!.records.map((r) => r.id) });
    };
    const rows = async (table: string) =>
      (await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
    const ten = upTo(10).map((seq) => batchEntry(Tick, { key: `k${seq}`, seq }));

    const byAge = await newOutbox({ retention: { maxAgeMs: 60_000 } });
    await byAge.writeBatch(pool, ten);
    await sendAll(byAge);
    await pool.query(`UPDATE ${byAge.table} SET sent_at = now() - interval '2 minutes' WHERE id <= 4`);
    expect(await byAge.prune()).toBe(4);
    expect(await rows(byAge.table)).toBe(6);

    const byCount = await newOutbox({ retention: { maxAgeMs: 3_600_000, maxCount: 3 } });
    await byCount.writeBatch(pool, ten);
    await sendAll(byCount);
    await pool.query(`UPDATE ${byCount.table} SET sent_at = now() - (20 - id) * interval '1 second'`);
    expect(await byCount.prune()).toBe(7);
    const kept = await pool.query(`SELECT id::int FROM ${byCount.table} ORDER BY id`);
    expect(kept.rows.map((row) => row.id)).toEqual([8, 9, 10]);

    const none = await newOutbox({ retention: { maxAgeMs: 0 } });
    await none.writeBatch(pool, ten);
    await sendAll(none);
    expect(await rows(none.table)).toBe(0);
  });
});

describe('relay on PostgreSQL', () => {
  /**
   * A started test bus that collects the ticks, an outbox on it, and the same outbox on a pool
   * whose connections a test can find, for the relay.
   */
  async function relayedOutbox(group: string, options: Partial<PostgresOutboxOptions> = {}) {
    const bus = testBus();
    const arrivals = collectTicks(bus, Tick, group);
    await bus.start();
    const outbox = await newOutbox({ bus, ...options });
    const { pool: relayPool, marker } = db.markedPool(group);
    const relayStore = createPostgresOutbox({ pool: relayPool, bus, schema, table: `outbox_${counter}` });
    return { bus, arrivals, outbox, relayStore, marker };
  }

  it('wakes on NOTIFY after commit, and listens again after its connection is killed', async () => {
    const { bus, arrivals, outbox, relayStore, marker } = await relayedOutbox('listener');
    const relayed = relay({
      store: relayStore,
      bus,
      // Only a notification can bring events out within the test's time.
      pollIntervalMs: 600_000,
    });
    await relayed.start();
    const listening = async () =>
      (
        await pool.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
          [marker],
        )
      ).rows;
    await waitUntil('the relay to listen', async () => (await listening()).length === 1);

    await inTransaction((client) => outbox.write(client, Tick, { key: 'a', seq: 0 }));
    await arrivals.waitForDistinct(1, 10_000);

    const [before] = await listening();
    await pool.query('SELECT pg_terminate_backend($1)', [before!.pid]);
    await waitUntil('the relay to listen again', async () => {
      const now = await listening();
      return now.length === 1 && now[0]!.pid !== before!.pid;
    });
    await inTransaction((client) => outbox.write(client, Tick, { key: 'a', seq: 1 }));
    await arrivals.waitForDistinct(2, 10_000);
    expect(arrivals.byKey.get('a')).toEqual([0, 1]);
  });

  it('polls when notifications are off', async () => {
    const { bus, arrivals, outbox } = await relayedOutbox('polled', { notify: false });
    await relay({ store: outbox, bus, pollIntervalMs: 50 }).start();
    await outbox.write(pool, Tick, { key: 'a', seq: 0 });
    await arrivals.waitForDistinct(1, 10_000);
  });

  it('keeps per-key order with several batches in flight in one relay', async () => {
    const { bus, arrivals, outbox } = await relayedOutbox('concurrent');
    await relay({ store: outbox, bus, concurrency: 4, batchSize: 3 }).start();
    for (let seq = 0; seq < 30; seq++) {
      await outbox.writeBatch(
        pool,
        upTo(8).map((k) => batchEntry(Tick, { key: `k${k}`, seq })),
      );
    }
    await arrivals.waitForDistinct(240, 30_000);
    for (let k = 0; k < 8; k++) expect(firstArrivals(arrivals.byKey.get(`k${k}`)!)).toEqual(upTo(30));
  });

  it('loses nothing when the database connection of a batch in flight dies', async () => {
    const { bus, arrivals, outbox, relayStore, marker } = await relayedOutbox('cut');
    await outbox.writeBatch(
      pool,
      upTo(50).map((seq) => batchEntry(Tick, { key: 'k', seq })),
    );
    let cut = false;
    const errors: string[] = [];
    relay({
      store: relayStore,
      adapter: interceptPublish(bus.adapter, async (records, next) => {
        await next(records);
        if (cut) return;
        cut = true;
        // The batch is out; its claim's connection dies before the relay marks it sent.
        await pool.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'`,
          [marker],
        );
      }),
      batchSize: 20,
      backoff: { initialDelayMs: 10, maxDelayMs: 50 },
      onError: (error, context) => errors.push(`${context.during}: ${error.message}`),
    }).start();
    await arrivals.waitForDistinct(50, 20_000);
    expect(firstArrivals(arrivals.byKey.get('k')!)).toEqual(upTo(50));
    expect(arrivals.duplicates).toBe(20);
    expect(errors[0]).toMatch(/^store: /);
  });
});
