import pg from 'pg';

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
