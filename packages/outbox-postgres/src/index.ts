/**
 * Transactional outbox, relay and inbox on PostgreSQL for Tidings, on pg.
 *
 * @module @tidings/outbox-postgres
 */
// The public API of @tidings/outbox-postgres: the PostgreSQL outbox (a store for core's outbox
// relay) and inbox. The Redis idempotency store is in '@tidings/adapter-redis-streams'.

export type { PostgresInbox, PostgresInboxOptions, TransactionalHandler } from './inbox/postgres-inbox';
export { createPostgresInbox } from './inbox/postgres-inbox';
export type {
  OutboxRetention,
  PostgresExecutor,
  PostgresOutbox,
  PostgresOutboxOptions,
} from './outbox/postgres-outbox';
export { createPostgresOutbox } from './outbox/postgres-outbox';
export { inboxMigration, outboxMigration } from './schema/migrations';
export type { TableLocation } from './schema/names';
