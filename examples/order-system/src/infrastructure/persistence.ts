// The storage side of the app, picked by configuration: in memory with no DATABASE_URL, on
// PostgreSQL with one. The services only see the OrderStore and IdempotencyStore interfaces; the
// outbox relay, which hands the written events to the broker, lives here too.
import {
  type Bus,
  createMemoryIdempotencyStore,
  createMemoryOutbox,
  createOutboxRelay,
  type IdempotencyStore,
  type OutboxRelay,
} from '@tidings/core';
import type { ActivityLog } from '../activity';
import type { AppConfig } from '../config';
import type { OrderStore } from '../orders/order-store';
import { createMemoryOrderStore } from './memory-order-store';

/** The storage's state, for the health endpoint. */
export interface StorageHealth {
  /** `degraded`: orders are taken, but their events wait (the broker is unreachable). */
  readonly status: 'up' | 'degraded' | 'down';
  readonly store: 'memory' | 'postgres';
  /** Events written and not yet handed to the broker, and the age of the oldest. */
  readonly outbox: { readonly pending: number; readonly lagMs: number; readonly relay: string };
  readonly error?: string;
}

/** Orders, outbox, relay and the consumers' idempotency marks, with their lifecycle. */
export interface Persistence {
  readonly orders: OrderStore;
  /** For consumers whose effect is outside the database (email, analytics, the warehouse). */
  readonly idempotency: IdempotencyStore;
  /** One line for the startup banner. */
  readonly description: string;
  /** Creates what is missing in the storage (schema, tables). Before the consumers start. */
  migrate(): Promise<void>;
  /** Starts handing the outbox to the broker. After the bus started (it connects the adapter). */
  startRelay(): Promise<void>;
  /** Stops the relay; the in-memory outbox first hands what it holds to the broker (10 s at most). */
  stopRelay(): Promise<void>;
  /** Releases connections; after `stopRelay` and after the bus stopped, since handlers use them. */
  close(): Promise<void>;
  health(): Promise<StorageHealth>;
}

// Long enough for a relay to drain a burst, short enough for a deployment's grace period.
const MEMORY_DRAIN_MS = 10_000;

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
  activity: ActivityLog,
): Promise<Persistence> {
  const onError = (error: Error): void => activity({ kind: 'relay.error', error: error.message });
  if (config.database !== undefined) {
    const { createPostgresPersistence } = await import('./postgres-persistence');
    return createPostgresPersistence(config.database, bus, onError);
  }

  // No database: the in-memory outbox. Writes return once the event is validated and queued, the
  // relay publishes it and retries while the broker is down, so taking an order never waits on
  // the broker; the queue dies with the process, though, which a database outbox does not.
  const idempotency = createMemoryIdempotencyStore();
  const outbox = createMemoryOutbox({ bus });
  // The relay publishes through the bus's adapter; its batches are `publish` spans linked to the
  // requests that wrote the events, so a trace runs from POST /orders to every consumer.
  const relay: OutboxRelay = createOutboxRelay({ store: outbox, bus, onError });
  return {
    orders: createMemoryOrderStore({ outbox, idempotency }),
    idempotency,
    description: 'in memory (no database: orders, outbox and idempotency marks live in this process)',
    async migrate() {},
    startRelay: () => relay.start(),
    async stopRelay() {
      const deadline = Date.now() + MEMORY_DRAIN_MS;
      while (outbox.size > 0 && Date.now() < deadline && relay.state !== 'backingOff') {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await relay.stop();
    },
    async close() {},
    health: () => relayHealth(relay, 'memory'),
  };
}

/** The storage's health as the relay sees it: degraded while it fails to hand events over. */
export async function relayHealth(relay: OutboxRelay, store: StorageHealth['store']): Promise<StorageHealth> {
  const stats = await relay.stats();
  const failing = stats.consecutiveFailures > 0;
  return {
    status: failing ? 'degraded' : 'up',
    store,
    outbox: { pending: stats.pending, lagMs: stats.lagMs, relay: stats.state },
    ...(failing && stats.lastError !== undefined ? { error: stats.lastError.message } : {}),
  };
}
