import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';

/** Where the tests find PostgreSQL: trust auth on the machine's server, database `test`. */
export const POSTGRES_URL = process.env.TIDINGS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A pool on the test database; the tests end it. */
export function createPool(options: pg.PoolConfig = {}): pg.Pool {
  return new pg.Pool({ connectionString: POSTGRES_URL, max: 8, ...options });
}

/** Fails (never skips) with what to do when PostgreSQL does not answer. */
export async function requirePostgres(pool: pg.Pool): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${POSTGRES_URL} (${(error as Error).message}). ` +
        'Start it with `bash tools/services.sh` from the repository root, or set TIDINGS_POSTGRES_URL.',
    );
  }
}

/** A schema name no other test run uses. */
export function uniqueSchema(label: string): string {
  return `tidings_t_${label}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Drops a schema made by a test, with everything in it. */
export async function dropSchema(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** What a test file gets from {@link usePostgres}. */
export interface PostgresFixture {
  /** The file's own schema, dropped after the last test. */
  readonly schema: string;
  /** The file's pool (set in `beforeAll`). */
  readonly pool: pg.Pool;
  /** Runs `cleanup` after the current test; the last registered runs first. */
  defer(cleanup: () => Promise<unknown>): void;
  /**
   * A pool of its own, its connections named `marker` (`application_name`) so that a test can
   * find them in `pg_stat_activity`; ended after the test.
   */
  markedPool(label: string): { readonly pool: pg.Pool; readonly marker: string };
}

/**
 * Registers the hooks of a test file that talks to PostgreSQL: a pool checked in `beforeAll`
 * (failing with what to do when the server is missing), cleanups after each test, and the
 * schema dropped and the pool ended at the end.
 */
export function usePostgres(label: string): PostgresFixture {
  const schema = uniqueSchema(label);
  let pool: pg.Pool | undefined;
  let cleanups: (() => Promise<unknown>)[] = [];
  let marked = 0;

  beforeAll(async () => {
    pool = createPool();
    await requirePostgres(pool);
  });

  afterEach(async () => {
    const due = cleanups.reverse();
    cleanups = [];
    for (const cleanup of due) await cleanup();
  });

  afterAll(async () => {
    if (pool === undefined) return;
    await dropSchema(pool, schema);
    await pool.end();
  });

  const defer = (cleanup: () => Promise<unknown>): void => {
    cleanups.push(cleanup);
  };
  return {
    schema,
    get pool() {
      if (pool === undefined) throw new Error('the pool is made in beforeAll');
      return pool;
    },
    defer,
    markedPool(name) {
      const marker = `tidings-${name}-${schema}-${++marked}`.slice(0, 63);
      const own = createPool({ application_name: marker, max: 4 });
      defer(() => own.end());
      return { pool: own, marker };
    },
  };
}
