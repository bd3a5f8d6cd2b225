import { randomUUID } from 'node:crypto';
import { type SimulatedLatency, simulateCall } from './latency';

/** A shipment the warehouse prepared. */
export interface Shipment {
  readonly shipmentId: string;
  readonly carrier: 'dhl' | 'ups' | 'postnl';
}

/** What the fulfilment consumer needs from the warehouse system. */
export interface Warehouse {
  /**
   * Packs an order and books a carrier. Idempotent per order: asking twice returns the shipment
   * prepared the first time, as a warehouse system keyed by order number does.
   */
  prepareShipment(
    request: { readonly orderId: string; readonly lines: readonly { sku: string; quantity: number }[] },
    signal?: AbortSignal,
  ): Promise<Shipment>;
}

const CARRIERS = ['dhl', 'ups', 'postnl'] as const;

/**
 * A warehouse system that answers after `latencyMs` and remembers the shipment of each order.
 *
 * @example
 * ```ts
 * const warehouse = createSimulatedWarehouse({ latencyMs: 250 });
 * const { shipmentId, carrier } = await warehouse.prepareShipment({ orderId: 'o-1', lines: [{ sku: 'tea-tin', quantity: 1 }] });
 * ```
 */
export function createSimulatedWarehouse(options: SimulatedLatency): Warehouse & {
  readonly shipments: ReadonlyMap<string, Shipment>;
} {
  const shipments = new Map<string, Shipment>();
  return {
    shipments,
    async prepareShipment(request, signal) {
      await simulateCall(options, signal);
      const existing = shipments.get(request.orderId);
      if (existing !== undefined) return existing;
      const carrier = CARRIERS[shipments.size % CARRIERS.length]!;
      const shipment = { shipmentId: `shp_${randomUUID()}`, carrier };
      shipments.set(request.orderId, shipment);
      return shipment;
    },
  };
}
