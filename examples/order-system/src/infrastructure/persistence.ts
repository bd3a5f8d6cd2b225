// The storage side of the app, picked by configuration: in memory with no DATABASE_URL, on
// PostgreSQL with one. The services only see the OrderStore and IdempotencyStore interfaces.
import { type Bus, createMemoryIdempotencyStore, type IdempotencyStore } from '@tidings/core';
import type { ActivityLog } from '../activity';
import type { AppConfig } from '../config';
import type { OrderStore } from '../orders/order-store';
import { createMemoryOrderStore } from './memory-order-store';

/** Orders, outbox, relay and the consumers' idempotency marks, with their lifecycle. */
export interface Persistence {
  readonly orders: OrderStore;
  /** For consumers whose effect is outside the database (email, analytics, the warehouse). */
  readonly idempotency: IdempotencyStore;
  /** One line for the startup banner. */
  readonly description: string;
  /** Prepares the storage (migrations) and starts publishing the outbox. */
  start(): Promise<void>;
  /** Stops publishing the outbox once what it holds is handed to the broker (or the wait runs out). */
  stopRelay(): Promise<void>;
  /** Releases connections; after `stopRelay` and after the bus stopped, since handlers use them. */
  close(): Promise<void>;
  /** Outbox backlog and the storage's state, for the health endpoint. */
  health(): Promise<{ readonly ok: boolean; readonly [detail: string]: unknown }>;
}

/**
 * Creates the storage the configuration asks for.
 *
 * @example
 * ```ts
 * const persistence = await createPersistence(config, bus, console.log);
 * await persistence.start();
 * ```
 */
export async function createPersistence(
  config: AppConfig,
  bus: Bus,
  _activity: ActivityLog,
): Promise<Persistence> {
  if (config.database !== undefined) {
    throw new Error(
      'DATABASE_URL is set, but the PostgreSQL outbox has not landed in this version of the example',
    );
  }
  const idempotency = createMemoryIdempotencyStore();
  // Stand-in until the in-memory outbox lands in core: events are published when the transaction
  // commits, without a relay. It keeps the OrderStore contract within one healthy process only.
  const orders = createMemoryOrderStore({
    outbox: { writeBatch: (entries) => bus.publishBatch(entries) },
    idempotency,
  });
  return {
    orders,
    idempotency,
    description: 'in memory (no database; orders and events live in this process)',
    async start() {},
    async stopRelay() {},
    async close() {},
    async health() {
      return { ok: true, store: 'memory' };
    },
  };
}
