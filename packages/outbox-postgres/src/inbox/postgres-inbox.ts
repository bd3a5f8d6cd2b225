import { randomUUID } from 'node:crypto';
import {
  type ClaimResult,
  DuplicateInProgressError,
  type Handler,
  type IdempotencyStore,
  type MessageContext,
  type ReceivedEvent,
} from '@tidings/core';
import { ConfigError, checkOptionNames, type OptionNames } from '@tidings/core/adapter';
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '../pg/transaction';
import { applyDdl, DEFAULT_INBOX_TABLE, inboxDdl } from '../schema/migrations';
import { type TableLocation, type TableNames, tableNames } from '../schema/names';

/** Settings of {@link createPostgresInbox}. */
export interface PostgresInboxOptions extends TableLocation {
  /** The pool the inbox takes its connections from. */
  readonly pool: Pool;
  /** Table name. Default `tidings_inbox` (schema default `public`). */
  readonly table?: string;
  /**
   * How long `handle` remembers a handled event, in milliseconds: a redelivery within this
   * window is skipped, one after it would be applied again. Default 604,800,000 (seven days).
   */
  readonly ttlMs?: number;
  /** The deduplication key `handle` uses. Default `<group>:<event id>`, as the idempotency policy. */
  readonly key?: (ctx: MessageContext) => string;
}

const OPTION_NAMES: OptionNames<PostgresInboxOptions> = {
  pool: true,
  schema: true,
  table: true,
  ttlMs: true,
  key: true,
};

/**
 * A handler whose effect goes through `client`, inside the transaction that also marks the event
 * handled. It must not commit or roll back itself.
 *
 * @example
 * ```ts
 * const post: TransactionalHandler<EventOf<typeof PaymentCaptured>> = async (event, client) => {
 *   await client.query('INSERT INTO ledger (payment_id) VALUES ($1)', [event.data.paymentId]);
 * };
 * bus.subscribe(PaymentCaptured, { group: 'ledger' }, inbox.handle(post));
 * ```
 */
export type TransactionalHandler<TEvent extends ReceivedEvent = ReceivedEvent> = (
  event: TEvent,
  client: PoolClient,
  ctx: MessageContext<TEvent>,
) => unknown;

/**
 * The PostgreSQL inbox. As an `IdempotencyStore` it serves the bus's `idempotency` option across
 * processes (duplicates narrowed to a crash between the effect and the mark). Its `handle`
 * wrapper goes further for effects in the same database: the effect and the mark commit in one
 * transaction, so each event's effect happens exactly once.
 *
 * @example
 * ```ts
 * const inbox: PostgresInbox = createPostgresInbox({ pool });
 * bus.subscribe(OrderPlaced, { group: 'email', idempotency: inbox }, sendConfirmation);
 * bus.subscribe(OrderPlaced, { group: 'billing' }, inbox.handle(async (event, client) => charge(client, event)));
 * ```
 */
export interface PostgresInbox extends IdempotencyStore {
  /** `"schema"."table"`, for your own SQL. */
  readonly table: string;
  /**
   * Wraps a handler so that it runs in a transaction that first marks the event handled: a
   * delivery of an event already committed is acknowledged without running the handler
   * (`ctx.duplicate` is set); a failure rolls back the effect and the mark together, for the
   * retry policy to try again. A concurrent delivery of the same event waits for the first one's
   * transaction, then skips or runs. Do not combine it with the `idempotency` option on the same
   * subscription: the policy's claim would make `handle` see the event as busy.
   */
  handle<TEvent extends ReceivedEvent>(handler: TransactionalHandler<TEvent>): Handler<TEvent>;
  /** Creates the table if it does not exist (see `inboxMigration`). */
  migrate(): Promise<void>;
  /** Deletes expired marks; resolves with how many. Call it now and then (hourly, say). */
  prune(): Promise<number>;
}

const PRUNE_CHUNK = 5_000;

const defaultKey = (ctx: MessageContext): string => `${ctx.group}:${ctx.event?.id ?? ctx.record.position}`;

class PostgresInboxStore implements PostgresInbox {
  readonly table: string;
  private readonly pool: Pool;
  private readonly names: TableNames;
  private readonly ttlMs: number;
  private readonly keyOf: (ctx: MessageContext) => string;
  // The token of each claim this process holds, so that `release` drops only its own claim.
  private readonly tokens = new Map<string, string>();
  private readonly sql: { mark: string; state: string; complete: string; release: string; prune: string };

  constructor(options: PostgresInboxOptions) {
    checkOptionNames(options, OPTION_NAMES);
    if (options?.pool === undefined || typeof options.pool.connect !== 'function') {
      throw new ConfigError('pool', 'a pg Pool is required');
    }
    this.pool = options.pool;
    this.names = tableNames(options, DEFAULT_INBOX_TABLE);
    this.table = this.names.qualified;
    const ttlMs = options.ttlMs ?? 604_800_000;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
      throw new ConfigError('ttlMs', `must be a positive integer, got ${String(ttlMs)}`);
    }
    this.ttlMs = ttlMs;
    if (options.key !== undefined && typeof options.key !== 'function') {
      throw new ConfigError('key', 'must be a function');
    }
    this.keyOf = options.key ?? defaultKey;
    const t = this.table;
    this.sql = {
      // Takes the key unless a live mark holds it (a done mark, or a claim whose lease has not
      // run out), and says which it was in the same round trip: the SELECT reads the snapshot
      // from before the INSERT, so it sees the mark that blocked it.
      mark: `WITH taken AS (
  INSERT INTO ${t} AS m (key, done, token, expires_at)
  VALUES ($1, $2, $3, now() + $4::float8 * interval '1 millisecond')
  ON CONFLICT (key) DO UPDATE SET done = EXCLUDED.done, token = EXCLUDED.token,
    expires_at = EXCLUDED.expires_at, updated_at = now()
  WHERE m.expires_at <= now()
  RETURNING 'claimed'::text AS result
)
SELECT result FROM taken
UNION ALL
SELECT CASE WHEN done THEN 'done' ELSE 'busy' END FROM ${t}
WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM taken)`,
      state: `SELECT CASE WHEN done THEN 'done' ELSE 'busy' END AS result FROM ${t} WHERE key = $1`,
      complete: `INSERT INTO ${t} AS m (key, done, token, expires_at)
VALUES ($1, true, NULL, now() + $2::float8 * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE SET done = true, token = NULL, expires_at = EXCLUDED.expires_at, updated_at = now()`,
      release: `DELETE FROM ${t} WHERE key = $1 AND token = $2 AND NOT done`,
      prune: `DELETE FROM ${t} WHERE key IN (
  SELECT key FROM ${t} WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)`,
    };
  }

  migrate(): Promise<void> {
    return applyDdl(this.pool, this.names, inboxDdl(this.names));
  }

  private async mark(
    client: Pick<PoolClient, 'query'>,
    key: string,
    done: boolean,
    token: string | null,
    ms: number,
  ): Promise<ClaimResult> {
    const { rows } = await client.query<{ result: ClaimResult }>(this.sql.mark, [key, done, token, ms]);
    if (rows[0] !== undefined) return rows[0].result;
    // The mark that blocked us was committed after this statement's snapshot (we waited for its
    // transaction): read it again. Nothing there means it expired and was pruned: try later.
    const again = await client.query<{ result: ClaimResult }>(this.sql.state, [key]);
    return again.rows[0]?.result ?? 'busy';
  }

  async claim(key: string, leaseMs: number): Promise<ClaimResult> {
    const token = randomUUID();
    const result = await this.mark(this.pool, key, false, token, leaseMs);
    if (result === 'claimed') this.tokens.set(key, token);
    return result;
  }

  async complete(key: string, ttlMs: number): Promise<void> {
    // Done is a fact whoever holds the claim now, so it is written unconditionally.
    await this.pool.query(this.sql.complete, [key, ttlMs]);
    this.tokens.delete(key);
  }

  async release(key: string): Promise<void> {
    const token = this.tokens.get(key);
    if (token === undefined) return;
    this.tokens.delete(key);
    // Only our own claim: after a lease ran out, another consumer's claim is not ours to drop.
    await this.pool.query(this.sql.release, [key, token]);
  }

  handle<TEvent extends ReceivedEvent>(handler: TransactionalHandler<TEvent>): Handler<TEvent> {
    if (typeof handler !== 'function') throw new ConfigError('handler', 'must be a function');
    return (event, ctx) =>
      inTransaction(this.pool, async (client) => {
        const result = await this.mark(client, this.keyOf(ctx as MessageContext), true, null, this.ttlMs);
        if (result === 'done') {
          ctx.duplicate = true;
          return;
        }
        if (result === 'busy') throw new DuplicateInProgressError(this.keyOf(ctx as MessageContext));
        await handler(event, client, ctx);
      });
  }

  async prune(): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = (await this.pool.query(this.sql.prune, [PRUNE_CHUNK])).rowCount ?? 0;
      total += deleted;
      if (deleted < PRUNE_CHUNK) return total;
    }
  }
}

/**
 * Creates the PostgreSQL inbox: an idempotency store shared by every consumer of the database,
 * and a `handle` wrapper that commits a handler's effect together with the "handled" mark.
 *
 * @example
 * ```ts
 * import { createPostgresInbox } from '@tidings/outbox-postgres';
 *
 * const inbox = createPostgresInbox({ pool });
 * await inbox.migrate();
 *
 * bus.subscribe(
 *   PaymentCaptured,
 *   { group: 'ledger' },
 *   inbox.handle(async (event, client) => {
 *     await client.query('INSERT INTO ledger (payment_id, amount) VALUES ($1, $2)', [
 *       event.data.paymentId,
 *       event.data.amount,
 *     ]);
 *   }),
 * );
 * ```
 */
export function createPostgresInbox(options: PostgresInboxOptions): PostgresInbox {
  return new PostgresInboxStore(options);
}
