import {
  createBus,
  createMemoryAdapter,
  createMemoryBroker,
  DuplicateInProgressError,
  type MessageContext,
} from '@tidings/core';
import { createTestBus } from '@tidings/core/testing';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPostgresInbox, inboxMigration, type PostgresInbox } from '../src/index';
import { tickContract, waitUntil } from './support/events';
import { usePostgres } from './support/postgres';

const db = usePostgres('inbox');
const { schema } = db;
const Tick = tickContract('inbox-ticks');
let counter = 0;
let pool: pg.Pool;

beforeAll(() => {
  pool = db.pool;
});

async function newInbox(onPool: pg.Pool = pool, table = `inbox_${++counter}`): Promise<PostgresInbox> {
  const inbox = createPostgresInbox({ pool: onPool, schema, table });
  await inbox.migrate();
  return inbox;
}

/** Makes a mark look as if its lease or time to live ran out. */
const expire = (inbox: PostgresInbox, key: string) =>
  pool.query(`UPDATE ${inbox.table} SET expires_at = now() - interval '1 second' WHERE key = $1`, [key]);

/** The part of a delivery context `handle` reads. */
function deliveryOf(id: string, group = 'ledger') {
  const ctx = { group, attempt: 1, duplicate: false, event: { id }, record: { position: '0' } };
  return { event: ctx.event as never, ctx: ctx as unknown as MessageContext & { duplicate: boolean } };
}

describe('the inbox as an idempotency store', () => {
  it('claims, reports busy and done, releases, and lets an expired claim be taken over', async () => {
    const inbox = await newInbox();
    expect(await inbox.claim('g:e-1', 60_000)).toBe('claimed');
    expect(await inbox.claim('g:e-1', 60_000)).toBe('busy');
    await inbox.release('g:e-1');
    expect(await inbox.claim('g:e-1', 60_000)).toBe('claimed');
    await inbox.complete('g:e-1', 60_000);
    expect(await inbox.claim('g:e-1', 60_000)).toBe('done');
    // Done marks are forgotten after their time to live.
    await expire(inbox, 'g:e-1');
    expect(await inbox.claim('g:e-1', 60_000)).toBe('claimed');
  });

  it("never releases another consumer's claim after its own lease ran out", async () => {
    const table = `inbox_${++counter}`;
    const first = await newInbox(pool, table);
    const second = await newInbox(pool, table);
    expect(await first.claim('g:e-2', 60_000)).toBe('claimed');
    await expire(first, 'g:e-2');
    expect(await second.claim('g:e-2', 60_000)).toBe('claimed');
    // The first consumer gives up late: the second one's claim must stand.
    await first.release('g:e-2');
    expect(await second.claim('g:e-2', 60_000)).toBe('busy');
  });

  it('deduplicates across consumers through the idempotency option of the bus', async () => {
    const table = `inbox_${++counter}`;
    const broker = createMemoryBroker();
    const handled: string[] = [];
    for (const name of ['one', 'two']) {
      const store = await newInbox(pool, table);
      const bus = createBus({ source: name, adapter: createMemoryAdapter({ broker }) });
      db.defer(() => bus.stop());
      bus.subscribe(Tick, { group: 'ledger', idempotency: store }, (event) => {
        handled.push(event.id);
      });
      await bus.start();
    }
    const publisher = createTestBus({ broker });
    db.defer(() => publisher.stop());
    const id = 'evt-dup';
    for (let i = 0; i < 4; i++) await publisher.publish(Tick, { key: 'k', seq: 1 }, { id });
    await publisher.publish(Tick, { key: 'k', seq: 2 }, { id: 'evt-last' });
    await waitUntil('the last event', () => handled.includes('evt-last'));
    expect(handled.filter((h) => h === id)).toHaveLength(1);
  });

  it('prunes expired marks only', async () => {
    const inbox = await newInbox();
    await inbox.complete('g:old', 60_000);
    await inbox.complete('g:new', 60_000);
    await expire(inbox, 'g:old');
    expect(await inbox.prune()).toBe(1);
    expect(await inbox.claim('g:new', 60_000)).toBe('done');
  });
});

describe('handle: the effect and the mark in one transaction', () => {
  it('runs the handler once and skips later deliveries, setting ctx.duplicate', async () => {
    const inbox = await newInbox();
    let runs = 0;
    const handler = inbox.handle(async () => {
      runs++;
    });
    const first = deliveryOf('e-1');
    await handler(first.event, first.ctx);
    const again = deliveryOf('e-1');
    await handler(again.event, again.ctx);
    expect(runs).toBe(1);
    expect([first.ctx.duplicate, again.ctx.duplicate]).toEqual([false, true]);
    // Another group has its own marks.
    const other = deliveryOf('e-1', 'audit');
    await handler(other.event, other.ctx);
    expect(runs).toBe(2);
  });

  it('rolls the effect and the mark back together when the handler fails', async () => {
    const inbox = await newInbox();
    const effects = `"${schema}".effects_${counter}`;
    await pool.query(`CREATE TABLE ${effects} (note text)`);
    let fail = true;
    const handler = inbox.handle(async (_event, client) => {
      await client.query(`INSERT INTO ${effects} VALUES ('applied')`);
      if (fail) throw new Error('after the effect');
    });
    const first = deliveryOf('e-2');
    await expect(handler(first.event, first.ctx)).rejects.toThrow('after the effect');
    expect((await pool.query(`SELECT * FROM ${effects}`)).rowCount).toBe(0);
    fail = false;
    const retry = deliveryOf('e-2');
    await handler(retry.event, retry.ctx);
    expect(retry.ctx.duplicate).toBe(false);
    expect((await pool.query(`SELECT * FROM ${effects}`)).rowCount).toBe(1);
  });

  it('makes a concurrent delivery wait for the first transaction, then skip', async () => {
    const { pool: own, marker } = db.markedPool('inbox');
    const inbox = await newInbox(own);
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handler = inbox.handle(async () => {
      runs++;
      await gate;
    });
    const first = deliveryOf('e-3');
    const second = deliveryOf('e-3');
    const firstDone = handler(first.event, first.ctx);
    await waitUntil('the first handler to run', () => runs === 1);
    const secondDone = handler(second.event, second.ctx);
    await waitUntil('the second delivery to wait on the first one', async () => {
      const waiting = await pool.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [marker],
      );
      return (waiting.rowCount ?? 0) > 0;
    });
    release();
    await Promise.all([firstDone, secondDone]);
    expect(runs).toBe(1);
    expect(second.ctx.duplicate).toBe(true);
  });

  it('reports an event claimed through the store API as in progress', async () => {
    const inbox = await newInbox();
    await inbox.claim('ledger:e-4', 60_000);
    const delivery = deliveryOf('e-4');
    const run = inbox.handle(async () => undefined);
    await expect(run(delivery.event, delivery.ctx)).rejects.toBeInstanceOf(DuplicateInProgressError);
  });

  it('checks its options', () => {
    expect(() => createPostgresInbox({ pool, ttlMs: 0 })).toThrow(/^ttlMs: /);
    expect(() => createPostgresInbox({ pool, table: 'bad-name' })).toThrow(/^table: /);
    expect(inboxMigration({ table: 'handled' })).toContain('CREATE TABLE IF NOT EXISTS "public"."handled"');
  });
});
