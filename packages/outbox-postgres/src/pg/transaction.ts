import type { Pool, PoolClient } from 'pg';

/**
 * One pooled connection held for one transaction. It listens for the connection's `error` event
 * while held (pg emits it on a checked-out client whose server went away, and an unheard `error`
 * would crash the process), and gives the client back exactly once: to the pool after a clean
 * end, destroyed after a failed one.
 */
export class Transaction {
  private released = false;
  private broken: Error | undefined;
  private readonly onError = (error: Error): void => {
    this.broken = error;
  };

  private constructor(readonly client: PoolClient) {
    client.on('error', this.onError);
  }

  /** Checks a client out of `pool` and runs `begin` on it. */
  static async begin(pool: Pool, begin = 'BEGIN'): Promise<Transaction> {
    const transaction = new Transaction(await pool.connect());
    try {
      await transaction.client.query(begin);
    } catch (error) {
      transaction.release(error);
      throw error;
    }
    return transaction;
  }

  /** Commits and gives the client back; if COMMIT fails, destroys the client and rethrows. */
  async commit(): Promise<void> {
    try {
      await this.client.query('COMMIT');
    } catch (error) {
      this.release(error);
      throw error;
    }
    this.release(undefined);
  }

  /** Rolls back and gives the client back. Never rejects: a failed rollback destroys the client. */
  async rollback(): Promise<void> {
    if (this.released) return;
    try {
      await this.client.query('ROLLBACK');
      this.release(undefined);
    } catch (error) {
      this.release(error);
    }
  }

  private release(error: unknown): void {
    if (this.released) return;
    this.released = true;
    this.client.off('error', this.onError);
    const failure = this.broken ?? error;
    this.client.release(failure instanceof Error ? failure : failure !== undefined);
  }
}

/** Runs `work` in a transaction on a pooled client: commits if it resolves, rolls back if not. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const transaction = await Transaction.begin(pool);
  let result: T;
  try {
    result = await work(transaction.client);
  } catch (error) {
    await transaction.rollback();
    throw error;
  }
  await transaction.commit();
  return result;
}
