import type { Pool } from 'pg';
import { inTransaction } from '../pg/transaction';
import { type TableLocation, type TableNames, tableNames } from './names';

/** The default table of the outbox. */
export const DEFAULT_OUTBOX_TABLE = 'tidings_outbox';
/** The default table of the inbox. */
export const DEFAULT_INBOX_TABLE = 'tidings_inbox';

function createSchema(names: TableNames): string {
  return names.schema === 'public' ? '' : `CREATE SCHEMA IF NOT EXISTS "${names.schema}";\n`;
}

/** @internal The outbox DDL for checked names. */
export function outboxDdl(names: TableNames): string {
  const t = names.qualified;
  const pending = 'WHERE sent_at IS NULL AND failed_at IS NULL';
  return `${createSchema(names)}CREATE TABLE IF NOT EXISTS ${t} (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id    text        NOT NULL,
  event_type  text        NOT NULL,
  topic       text        NOT NULL,
  key         text,
  headers     jsonb       NOT NULL,
  body        bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  attempts    integer     NOT NULL DEFAULT 0,
  last_error  text,
  sent_at     timestamptz,
  failed_at   timestamptz
);
CREATE INDEX IF NOT EXISTS ${names.objectName('pending')} ON ${t} (id) ${pending};
CREATE INDEX IF NOT EXISTS ${names.objectName('sent')} ON ${t} (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ${names.objectName('failed')} ON ${t} (id) WHERE failed_at IS NOT NULL;
`;
}

/** @internal The inbox DDL for checked names. */
export function inboxDdl(names: TableNames): string {
  const t = names.qualified;
  return `${createSchema(names)}CREATE TABLE IF NOT EXISTS ${t} (
  key         text        PRIMARY KEY,
  done        boolean     NOT NULL,
  token       text,
  expires_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ${names.objectName('expires')} ON ${t} (expires_at);
`;
}

/**
 * The SQL that creates the outbox table and its indexes. It is idempotent (`IF NOT EXISTS`), so
 * it can go into your own migration tool as it is, or be applied by `outbox.migrate()`.
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { outboxMigration } from '@tidings/outbox-postgres';
 *
 * writeFileSync('migrations/0042_outbox.sql', outboxMigration({ schema: 'orders' }));
 * ```
 */
export function outboxMigration(location: TableLocation = {}): string {
  return outboxDdl(tableNames(location, DEFAULT_OUTBOX_TABLE));
}

/**
 * The SQL that creates the inbox (idempotency) table. Idempotent; give it to your migration tool
 * or let `inbox.migrate()` apply it.
 *
 * @example
 * ```ts
 * import { inboxMigration } from '@tidings/outbox-postgres';
 *
 * console.log(inboxMigration({ schema: 'billing', table: 'handled_events' }));
 * ```
 */
export function inboxMigration(location: TableLocation = {}): string {
  return inboxDdl(tableNames(location, DEFAULT_INBOX_TABLE));
}

/**
 * @internal Applies DDL in one transaction, under an advisory lock on the table's name, so that
 * processes starting together do not race on `CREATE ... IF NOT EXISTS`.
 */
export async function applyDdl(pool: Pool, names: TableNames, ddl: string): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tidings:${names.qualified}`]);
    await client.query(ddl);
  });
}
