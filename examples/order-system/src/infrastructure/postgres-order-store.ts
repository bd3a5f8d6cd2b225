// The order store on PostgreSQL: orders in a table of the app's schema, their events in the
// transactional outbox of @tidings/outbox-postgres in the same transaction, and handlers made
// exactly-once for database effects by its inbox.
import type { PostgresInbox, PostgresOutbox } from '@tidings/outbox-postgres';
import type { Pool, PoolClient } from 'pg';
import type { Order } from '../orders/order';
import type { OrderStore, OrderTransaction } from '../orders/order-store';

/** Settings of {@link createPostgresOrderStore}. */
export interface PostgresOrderStoreOptions {
  readonly pool: Pool;
  /** The schema of the orders table (a plain identifier); the outbox and inbox live there too. */
  readonly schema: string;
  readonly outbox: PostgresOutbox;
  readonly inbox: PostgresInbox;
}

interface OrderRow {
  readonly id: string;
  readonly customer_email: string;
  readonly lines: Order['lines'];
  readonly total_cents: number;
  readonly status: Order['status'];
  readonly payment_id: string;
  readonly reservation_id: string;
  readonly placed_at: Date;
  readonly shipment: NonNullable<Order['shipment']> | null;
}

/**
 * Creates the order store on PostgreSQL; `migrate()` creates its table.
 *
 * @example
 * ```ts
 * const orders = createPostgresOrderStore({ pool, schema: 'order_system', outbox, inbox });
 * await orders.migrate();
 * ```
 */
export function createPostgresOrderStore(
  options: PostgresOrderStoreOptions,
): OrderStore & { migrate(): Promise<void> } {
  const { pool, outbox, inbox } = options;
  if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new Error(`bad schema name ${options.schema}`);
  const table = `"${options.schema}".orders`;

  const transactionOn = (client: PoolClient): OrderTransaction => ({
    async insert(order) {
      await client.query(
        `INSERT INTO ${table} (id, customer_email, lines, total_cents, status, payment_id, reservation_id, placed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          order.id,
          order.customerEmail,
          JSON.stringify(order.lines),
          order.totalCents,
          order.status,
          order.paymentId,
          order.reservationId,
          order.placedAt,
        ],
      );
    },
    async markShipped(orderId, shipment) {
      const result = await client.query(
        `UPDATE ${table} SET status = 'shipped', shipment = $2 WHERE id = $1`,
        [orderId, JSON.stringify(shipment)],
      );
      return result.rowCount === 1;
    },
    async publish(contract, data, publishOptions) {
      // Into the outbox table, through this transaction's connection: it commits with the order.
      const published = await outbox.write(client, contract, data, publishOptions);
      return { eventId: published.id };
    },
  });

  return {
    async migrate() {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
      await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (
        id text PRIMARY KEY,
        customer_email text NOT NULL,
        lines jsonb NOT NULL,
        total_cents integer NOT NULL CHECK (total_cents >= 0),
        status text NOT NULL CHECK (status IN ('placed', 'shipped')),
        payment_id text NOT NULL,
        reservation_id text NOT NULL,
        placed_at timestamptz NOT NULL,
        shipment jsonb
      )`);
    },
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(transactionOn(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async find(orderId) {
      const { rows } = await pool.query<OrderRow>(`SELECT * FROM ${table} WHERE id = $1`, [orderId]);
      const row = rows[0];
      if (row === undefined) return undefined;
      return {
        id: row.id,
        customerEmail: row.customer_email,
        lines: row.lines,
        totalCents: row.total_cents,
        status: row.status,
        paymentId: row.payment_id,
        reservationId: row.reservation_id,
        placedAt: row.placed_at.toISOString(),
        ...(row.shipment === null ? {} : { shipment: row.shipment }),
      };
    },
    handleOnce(work) {
      // The inbox runs the handler in a transaction that first records the event as handled by
      // this group: the status change and that record commit together, or neither does.
      return inbox.handle((event, client, ctx) => work(event, transactionOn(client), ctx));
    },
  };
}
