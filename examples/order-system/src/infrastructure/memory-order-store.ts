// The order store without a database: orders in a Map, events in the in-memory outbox. It keeps
// the promises of the OrderStore interface within one process (nothing survives a restart), so
// that the service code runs unchanged on it and on PostgreSQL.
import {
  type BatchEntry,
  batchEntry,
  DuplicateInProgressError,
  type IdempotencyStore,
  type PublishedEvent,
  uuidv7,
} from '@tidings/core';
import type { Order } from '../orders/order';
import type { OrderStore, OrderTransaction } from '../orders/order-store';

/** Where a committed transaction's events go: the in-memory outbox's `writeBatch`. */
export interface EventWriter {
  writeBatch(entries: readonly BatchEntry[]): Promise<PublishedEvent[]>;
}

/** Settings of {@link createMemoryOrderStore}. */
export interface MemoryOrderStoreOptions {
  /** Takes the events of each committed transaction: validates them, or refuses them all. */
  readonly outbox: EventWriter;
  /** Remembers which events `handleOnce` handlers have handled. */
  readonly idempotency: IdempotencyStore;
}

const HANDLED_TTL_MS = 7 * 24 * 3_600_000;
const LEASE_MS = 60_000;

/**
 * Creates an order store in process memory.
 *
 * @example
 * ```ts
 * const orders = createMemoryOrderStore({ outbox: createMemoryOutbox({ bus }), idempotency: createMemoryIdempotencyStore() });
 * ```
 */
export function createMemoryOrderStore(options: MemoryOrderStoreOptions): OrderStore {
  const orders = new Map<string, Order>();

  const transaction: OrderStore['transaction'] = async (work) => {
    // Writes are staged and applied at commit, so a transaction that throws leaves nothing behind.
    const staged = new Map<string, Order>();
    const events: BatchEntry[] = [];
    const current = (id: string): Order | undefined => staged.get(id) ?? orders.get(id);
    const tx: OrderTransaction = {
      async insert(order) {
        if (current(order.id) !== undefined) throw new Error(`order ${order.id} exists already`);
        staged.set(order.id, order);
      },
      async markShipped(orderId, shipment) {
        const order = current(orderId);
        if (order === undefined) return false;
        staged.set(orderId, { ...order, status: 'shipped', shipment });
        return true;
      },
      async publish(contract, data, publishOptions) {
        // The id is fixed now so that the caller can log it before the commit encodes the event.
        const eventId = publishOptions?.id ?? uuidv7();
        events.push(batchEntry(contract, data, { ...publishOptions, id: eventId }));
        return { eventId };
      },
    };
    const result = await work(tx);
    // Commit: the outbox validates and queues every event or none; only then do the orders
    // change, in one synchronous step that nothing can interrupt.
    if (events.length > 0) await options.outbox.writeBatch(events);
    for (const [id, order] of staged) orders.set(id, order);
    return result;
  };

  return {
    transaction,
    async find(orderId) {
      return orders.get(orderId);
    },
    handleOnce(work) {
      return async (event, ctx) => {
        const key = `${ctx.group}:${event.id}`;
        const claim = await options.idempotency.claim(key, LEASE_MS);
        if (claim === 'done') {
          ctx.duplicate = true;
          return;
        }
        if (claim === 'busy') throw new DuplicateInProgressError(key);
        try {
          await transaction((tx) => work(event, tx, ctx));
        } catch (error) {
          await options.idempotency.release(key);
          throw error;
        }
        await options.idempotency.complete(key, HANDLED_TTL_MS);
      };
    },
  };
}
