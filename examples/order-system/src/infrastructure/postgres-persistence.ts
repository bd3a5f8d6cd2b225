// PostgreSQL: orders, the transactional outbox and the inbox in one schema of the app's own. The
// relay publishes what the outbox holds; several processes may run one, and per-key order holds.
import { type Bus, createOutboxRelay } from '@tidings/core';
import { createPostgresInbox, createPostgresOutbox } from '@tidings/outbox-postgres';
import pg from 'pg';
import type { AppConfig } from '../config';
import { type Persistence, relayHealth } from './persistence';
import { createPostgresOrderStore } from './postgres-order-store';

/**
 * Creates the PostgreSQL storage; `migrate()` creates the schema and tables if they are missing.
 *
 * @example
 * ```ts
 * const persistence = await createPostgresPersistence({ url: 'postgres://127.0.0.1:5432/test', schema: 'order_system' }, bus, console.error);
 * ```
 */
export function createPostgresPersistence(
  database: NonNullable<AppConfig['database']>,
  bus: Bus,
  onError: (error: Error) => void,
): Persistence {
  const { schema } = database;
  const pool = new pg.Pool({ connectionString: database.url, max: 20 });
  // An idle client that errors (the server restarted) must not crash the process; the pool drops it.
  pool.on('error', onError);
  const outbox = createPostgresOutbox({ pool, bus, schema });
  // The inbox is the idempotency store of every consumer (one table, shared by all processes), and
  // the transaction of the order service's own consumer.
  const inbox = createPostgresInbox({ pool, schema });
  const orders = createPostgresOrderStore({ pool, schema, outbox, inbox });
  const relay = createOutboxRelay({ store: outbox, bus, onError });
  const host = new URL(database.url).host;

  return {
    orders,
    idempotency: inbox,
    description: `PostgreSQL at ${host}, schema "${schema}" (orders, outbox, inbox)`,
    async migrate() {
      await orders.migrate();
      await outbox.migrate();
      await inbox.migrate();
    },
    startRelay: () => relay.start(),
    // What is still pending stays in the table for the next relay: nothing to drain.
    stopRelay: () => relay.stop(),
    close: () => pool.end(),
    async health() {
      try {
        return await relayHealth(relay, 'postgres');
      } catch (error) {
        return {
          status: 'down',
          store: 'postgres',
          outbox: { pending: -1, lagMs: -1, relay: 'unknown' },
          error: (error as Error).message,
        };
      }
    },
  };
}
