// Fulfilment: asks the warehouse to pack each placed order, then announces the shipment with a
// ShipmentPrepared event, which the order service turns into the status "shipped". The warehouse
// call is idempotent per order, so a retry after a failed publish does not pack twice.
import type { Bus, Subscription } from '@tidings/core';
import { OrderPlaced, ShipmentPrepared } from '../contracts';
import type { Warehouse } from '../services/warehouse';
import { type ConsumerDeps, groupName, subscriptionPolicy } from './policy';

export const FULFILMENT_GROUP = 'fulfilment';

/**
 * Subscribes the fulfilment consumer.
 *
 * @example
 * ```ts
 * subscribeFulfilment(bus, { warehouse, idempotency: store, activity: console.log });
 * ```
 */
export function subscribeFulfilment(
  bus: Bus,
  deps: ConsumerDeps & { readonly warehouse: Warehouse },
): Subscription {
  return bus.subscribe(
    OrderPlaced,
    {
      group: groupName(deps.policy, FULFILMENT_GROUP),
      ...subscriptionPolicy(deps.policy),
      timeoutMs: 30_000,
      idempotency: { store: deps.idempotency, ttlMs: 7 * 24 * 3_600_000 },
    },
    async (event, ctx) => {
      const order = event.data;
      const shipment = await deps.warehouse.prepareShipment(
        { orderId: order.orderId, lines: order.lines },
        ctx.signal,
      );
      // ctx.publish links the new event to this one (causation and correlation ids), so a trace
      // or a log search follows the order from placement to shipment.
      await ctx.publish(ShipmentPrepared, {
        orderId: order.orderId,
        shipmentId: shipment.shipmentId,
        carrier: shipment.carrier,
        preparedAt: new Date().toISOString(),
        orderPlacedAt: order.placedAt,
      });
      deps.activity({ kind: 'shipment.prepared', orderId: order.orderId, shipmentId: shipment.shipmentId });
    },
  );
}
