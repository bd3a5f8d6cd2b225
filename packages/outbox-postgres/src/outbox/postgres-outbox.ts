import type {
  AnyEventContract,
  BatchEntry,
  Bus,
  EventInput,
  OutboxClaim,
  OutboxRecord,
  OutboxSettlement,
  OutboxStats,
  OutboxStore,
  OutboxWatch,
  PublishedEvent,
  PublishOptions,
} from '@tidings/core';
import { ConfigError, checkOptionNames, type OptionNames } from '@tidings/core/adapter';
import type { ClientBase, Pool } from 'pg';
import { Transaction } from '../pg/transaction';
import { applyDdl, DEFAULT_OUTBOX_TABLE, outboxDdl } from '../schema/migrations';
import { type TableLocation, type TableNames, tableNames } from '../schema/names';
import { ChannelListener } from './listener';
import { type OutboxQueries, outboxQueries } from './queries';

/**
 * Anything that runs a query like a `pg` client: a `PoolClient` or `Client` inside your
 * transaction (the usual case), or the `Pool` itself to write outside one.
 *
 * @example
 * ```ts
 * const client: PostgresExecutor = await pool.connect();
 * ```
 */
export type PostgresExecutor = Pick<ClientBase, 'query'>;

/**
 * How long sent records stay in the table.
 *
 * @example
 * ```ts
 * createPostgresOutbox({ pool, bus, retention: { maxAgeMs: 24 * 3_600_000, maxCount: 1_000_000 } });
 * ```
 */
export interface OutboxRetention {
  /**
   * Keep sent records this long, in milliseconds, for inspection and replays. `0` deletes a
   * record as soon as it is sent (the fastest setting). Default 3,600,000 (one hour).
   */
  readonly maxAgeMs?: number;
  /** Keep at most this many sent records as well. Default: no limit. */
  readonly maxCount?: number;
}

/** Settings of {@link createPostgresOutbox}. */
export interface PostgresOutboxOptions extends TableLocation {
  /** The pool the relay side uses: claims (one connection per batch in flight), `LISTEN`, stats. */
  readonly pool: Pool;
  /**
   * The bus that validates and encodes events (`bus.prepare`). Its adapter's header prefix must
   * be the one of the adapter the relay publishes through; the relay checks.
   */
  readonly bus: Bus;
  /** Table name. Default `tidings_outbox` (schema default `public`). */
  readonly table?: string;
  /**
   * Wake relays with `NOTIFY` on every write, on this channel (`true`: `<schema>.<table>`).
   * `false` leaves relays to poll; consider it when very many transactions write at once, since
   * PostgreSQL serializes the commits of transactions that notified. Default true.
   */
  readonly notify?: boolean | string;
  /** Retention of sent records. Default: one hour. */
  readonly retention?: OutboxRetention;
}

const OPTION_NAMES: OptionNames<PostgresOutboxOptions> = {
  pool: true,
  bus: true,
  schema: true,
  table: true,
  notify: true,
  retention: true,
};
const RETENTION_NAMES: OptionNames<OutboxRetention> = { maxAgeMs: true, maxCount: true };

/**
 * The PostgreSQL outbox: write events in your transaction, and let a relay
 * (`createOutboxRelay({ store: outbox, bus })`) publish them.
 *
 * @example
 * ```ts
 * const outbox: PostgresOutbox = createPostgresOutbox({ pool, bus });
 * await outbox.write(client, OrderPlaced, { orderId: 'o-1', total: 42, currency: 'EUR' });
 * ```
 */
export interface PostgresOutbox extends OutboxStore {
  /** `"schema"."table"`, for your own SQL (inspection, requeueing parked records). */
  readonly table: string;
  /**
   * Validates and encodes one event like `bus.publish`, and inserts it through `client`, inside
   * the transaction the client is in: it commits or rolls back with your data. Rejects with the
   * bus's `ValidationError` or `MessageTooLargeError`, or with pg's error.
   */
  write<TContract extends AnyEventContract>(
    client: PostgresExecutor,
    contract: TContract,
    data: EventInput<TContract>,
    options?: PublishOptions,
  ): Promise<PublishedEvent>;
  /** Validates and encodes several events and inserts them in one statement, in order. */
  writeBatch(client: PostgresExecutor, entries: readonly BatchEntry[]): Promise<PublishedEvent[]>;
  /** Creates the table and its indexes if they do not exist (see `outboxMigration`). */
  migrate(): Promise<void>;
  /** `LISTEN`s for writes on one pooled connection; reconnects by itself. */
  watch(listener: () => void): OutboxWatch;
  /** Deletes sent records past the retention; the relay calls it every `pruneIntervalMs`. */
  prune(): Promise<number>;
}

// Longest channel name PostgreSQL keeps (NAMEDATALEN - 1 bytes).
const MAX_CHANNEL_BYTES = 63;
const PRUNE_CHUNK = 5_000;
const MAX_ERROR_LENGTH = 2_000;

interface ClaimedRow {
  readonly id: string;
  readonly topic: string;
  readonly key: string | null;
  readonly headers: string;
  readonly body: Uint8Array;
  readonly written_ms: number;
  readonly attempts: number;
}

class PostgresOutboxStore implements PostgresOutbox {
  readonly headerPrefix: string;
  readonly table: string;
  private readonly pool: Pool;
  private readonly bus: Bus;
  private readonly names: TableNames;
  private readonly sql: OutboxQueries;
  private readonly channel: string | undefined;
  private readonly maxAgeMs: number;
  private readonly maxCount: number | undefined;
  private readonly deleteOnSend: boolean;

  constructor(options: PostgresOutboxOptions) {
    checkOptionNames(options, OPTION_NAMES);
    checkOptionNames(options?.retention, RETENTION_NAMES, 'retention');
    if (options?.pool === undefined || typeof options.pool.connect !== 'function') {
      throw new ConfigError('pool', 'a pg Pool is required');
    }
    if (options.bus === undefined || typeof options.bus.prepare !== 'function') {
      throw new ConfigError('bus', 'a bus is required to validate and encode the events');
    }
    this.pool = options.pool;
    this.bus = options.bus;
    this.headerPrefix = options.bus.adapter.capabilities.headerPrefix;
    this.names = tableNames(options, DEFAULT_OUTBOX_TABLE);
    this.table = this.names.qualified;
    this.sql = outboxQueries(this.names);
    this.channel = channelOf(options.notify ?? true, this.names);
    const retention = options.retention ?? {};
    this.maxAgeMs = checkNonNegative('retention.maxAgeMs', retention.maxAgeMs ?? 3_600_000);
    this.maxCount =
      retention.maxCount === undefined
        ? undefined
        : checkNonNegative('retention.maxCount', retention.maxCount);
    this.deleteOnSend = this.maxAgeMs === 0 || this.maxCount === 0;
  }

  migrate(): Promise<void> {
    return applyDdl(this.pool, this.names, outboxDdl(this.names));
  }

  async write(
    client: PostgresExecutor,
    contract: AnyEventContract,
    data: unknown,
    options?: PublishOptions,
  ): Promise<PublishedEvent> {
    const [event] = await this.writeBatch(client, [
      options === undefined ? { contract, data } : { contract, data, options },
    ]);
    return event!;
  }

  async writeBatch(client: PostgresExecutor, entries: readonly BatchEntry[]): Promise<PublishedEvent[]> {
    if (entries.length === 0) return [];
    const { records, events } = await this.bus.prepare(entries);
    const values: unknown[] = [
      events.map((e) => e.id),
      events.map((e) => e.type),
      records.map((r) => r.topic),
      records.map((r) => r.key ?? null),
      records.map((r) => JSON.stringify(r.headers)),
      records.map((r) => r.body),
    ];
    if (this.channel === undefined) await client.query(this.sql.insert, values);
    else await client.query(this.sql.insertAndNotify, [...values, this.channel]);
    return events;
  }

  async claim(limit: number): Promise<OutboxClaim | undefined> {
    const transaction = await Transaction.begin(this.pool);
    let rows: ClaimedRow[];
    try {
      rows = (await transaction.client.query<ClaimedRow>(this.sql.claim, [limit, claimWindow(limit)])).rows;
    } catch (error) {
      await transaction.rollback();
      throw error;
    }
    if (rows.length === 0) {
      await transaction.rollback();
      return undefined;
    }
    let settling: Promise<void> | undefined;
    return {
      records: rows.map(toOutboxRecord),
      settle: (settlement) => {
        settling ??= this.settle(transaction, rows, settlement);
        return settling;
      },
    };
  }

  private async settle(
    transaction: Transaction,
    rows: readonly ClaimedRow[],
    settlement: OutboxSettlement,
  ): Promise<void> {
    const { client } = transaction;
    try {
      if (settlement.sent.length > 0) {
        await client.query(this.deleteOnSend ? this.sql.deleteSent : this.sql.markSent, [settlement.sent]);
      }
      const failed = settlement.failed ?? [];
      if (failed.length > 0) {
        await client.query(this.sql.markFailed, [
          failed.map((f) => f.id),
          failed.map((f) => describe(f.error)),
        ]);
      }
      if (settlement.error !== undefined) {
        const done = new Set([...settlement.sent, ...failed.map((f) => f.id)]);
        const rest = rows.filter((row) => !done.has(row.id)).map((row) => row.id);
        if (rest.length > 0) await client.query(this.sql.markAttempted, [rest, describe(settlement.error)]);
      }
    } catch (error) {
      await transaction.rollback();
      throw error;
    }
    await transaction.commit();
  }

  async stats(): Promise<OutboxStats> {
    const { rows } = await this.pool.query<{ pending: number; failed: number; lag_ms: number }>(
      this.sql.stats,
    );
    const row = rows[0]!;
    return { pending: row.pending, failed: row.failed, lagMs: Math.max(0, Math.round(row.lag_ms)) };
  }

  watch(listener: () => void): OutboxWatch {
    if (this.channel === undefined) return { close: async () => undefined };
    return new ChannelListener(this.pool, this.channel, listener);
  }

  async prune(): Promise<number> {
    if (this.deleteOnSend) return 0;
    let total = 0;
    for (;;) {
      const result = await this.pool.query(this.sql.prune, [
        this.maxAgeMs,
        this.maxCount ?? null,
        PRUNE_CHUNK,
      ]);
      const deleted = result.rowCount ?? 0;
      total += deleted;
      if (deleted < PRUNE_CHUNK) return total;
    }
  }
}

/**
 * How many of the oldest pending records a claim looks at for free keys: enough to fill the batch
 * when other relays hold some keys, few enough that a claim stays cheap under a huge backlog.
 */
function claimWindow(limit: number): number {
  return Math.min(Math.max(limit * 10, 1_000), 100_000);
}

function toOutboxRecord(row: ClaimedRow): OutboxRecord {
  return {
    id: row.id,
    record: {
      topic: row.topic,
      key: row.key ?? undefined,
      headers: JSON.parse(row.headers) as Record<string, string>,
      body: row.body,
    },
    writtenAt: new Date(row.written_ms),
    attempts: row.attempts,
  };
}

function describe(error: Error): string {
  const text = `${error.name}: ${error.message}`;
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}

function checkNonNegative(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(field, `must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

function channelOf(notify: boolean | string, names: TableNames): string | undefined {
  if (notify === false) return undefined;
  const channel = notify === true ? `${names.schema}.${names.table}` : notify;
  if (
    typeof channel !== 'string' ||
    channel.length === 0 ||
    channel.includes('"') ||
    channel.includes('\0') ||
    Buffer.byteLength(channel) > MAX_CHANNEL_BYTES
  ) {
    throw new ConfigError(
      'notify',
      `the channel must be 1 to ${MAX_CHANNEL_BYTES} bytes without double quotes, got ${JSON.stringify(channel)}; ` +
        'name one with notify: "<channel>"',
    );
  }
  return channel;
}

/**
 * Creates the PostgreSQL outbox. `write` puts events in the outbox table inside the caller's
 * transaction, validated and encoded by the bus exactly as `publish` would (publish middleware
 * runs then, so the trace context is the writer's); a relay publishes them after the commit.
 *
 * @example
 * ```ts
 * import { createBus, createOutboxRelay } from '@tidings/core';
 * import { createPostgresOutbox } from '@tidings/outbox-postgres';
 * import pg from 'pg';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const bus = createBus({ source: 'order-service', adapter });
 * const outbox = createPostgresOutbox({ pool, bus });
 * await outbox.migrate();
 *
 * const client = await pool.connect();
 * try {
 *   await client.query('BEGIN');
 *   await client.query('INSERT INTO orders (id, total) VALUES ($1, $2)', ['o-1', 42]);
 *   await outbox.write(client, OrderPlaced, { orderId: 'o-1', total: 42, currency: 'EUR' });
 *   await client.query('COMMIT');
 * } catch (error) {
 *   await client.query('ROLLBACK');
 *   throw error;
 * } finally {
 *   client.release();
 * }
 *
 * const relay = createOutboxRelay({ store: outbox, bus });
 * await relay.start();
 * ```
 */
export function createPostgresOutbox(options: PostgresOutboxOptions): PostgresOutbox {
  return new PostgresOutboxStore(options);
}
