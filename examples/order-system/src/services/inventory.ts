import { randomUUID } from 'node:crypto';
import { type SimulatedLatency, simulateCall } from './latency';

/** What the order service asks of the inventory system. */
export interface InventoryService {
  /** Reserves every line or none; rejects with {@link OutOfStockError} when one cannot be met. */
  reserve(request: ReservationRequest, signal?: AbortSignal): Promise<{ readonly reservationId: string }>;
  /** Gives reserved stock back: the compensation when the order cannot go on after all. */
  release(reservationId: string): Promise<void>;
}

export interface ReservationRequest {
  readonly orderId: string;
  readonly lines: readonly { readonly sku: string; readonly quantity: number }[];
}

/** Not enough stock for a line of the order. */
export class OutOfStockError extends Error {
  override readonly name = 'OutOfStockError';
  constructor(readonly sku: string) {
    super(`not enough stock of ${sku}`);
  }
}

/** Settings of {@link createSimulatedInventoryService}. */
export interface SimulatedInventoryOptions extends SimulatedLatency {
  /** Units in stock per SKU; a SKU not listed has `defaultStock`. */
  readonly stock?: Readonly<Record<string, number>>;
  /** Stock of SKUs not in `stock`. Default 1,000,000 (the demo never runs out). */
  readonly defaultStock?: number;
}

/**
 * An inventory system that answers after `latencyMs` and keeps stock counts in memory.
 *
 * @example
 * ```ts
 * const inventory = createSimulatedInventoryService({ latencyMs: 200, stock: { 'sold-out-mug': 0 } });
 * const { reservationId } = await inventory.reserve({ orderId: 'o-1', lines: [{ sku: 'tea-tin', quantity: 2 }] });
 * ```
 */
export function createSimulatedInventoryService(options: SimulatedInventoryOptions): InventoryService {
  const defaultStock = options.defaultStock ?? 1_000_000;
  const stock = new Map(Object.entries(options.stock ?? {}));
  const reservations = new Map<string, ReservationRequest['lines']>();
  const available = (sku: string): number => stock.get(sku) ?? defaultStock;
  return {
    async reserve(request, signal) {
      await simulateCall(options, signal);
      // Checked and taken in one synchronous step, so two orders cannot both take the last unit.
      for (const line of request.lines) {
        if (available(line.sku) < line.quantity) throw new OutOfStockError(line.sku);
      }
      for (const line of request.lines) stock.set(line.sku, available(line.sku) - line.quantity);
      const reservationId = `res_${randomUUID()}`;
      reservations.set(reservationId, request.lines);
      return { reservationId };
    },
    async release(reservationId) {
      await simulateCall(options);
      const lines = reservations.get(reservationId);
      if (lines === undefined) return;
      reservations.delete(reservationId);
      for (const line of lines) stock.set(line.sku, available(line.sku) + line.quantity);
    },
  };
}
