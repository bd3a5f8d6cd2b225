// The order service's own consumer: when the warehouse announces a shipment, the order becomes
// "shipped". The status update and the "handled" mark commit in one transaction (the inbox), so a
// redelivered ShipmentPrepared changes nothing and a failed attempt leaves nothing half done.
import type { Bus, Subscription } from '@tidings/core';
import type { ActivityLog } from '../activity';
import type { ConsumerPolicy } from '../consumers/policy';
import { groupName, subscriptionPolicy } from '../consumers/policy';
import { ShipmentPrepared } from '../contracts';
import type { OrderStore } from './order-store';

export const ORDER_STATUS_GROUP = 'order-status';

/** A shipment arrived for an order this service does not know: worth a retry, then a dead letter. */
export class UnknownOrderError extends Error {
  override readonly name = 'UnknownOrderError';
}

/**
 * Subscribes the order service to shipments.
 *
 * @example
 * ```ts
 * subscribeShipmentTracking(bus, { orders: store, activity: console.log });
 * ```
 */
export function subscribeShipmentTracking(
  bus: Bus,
  deps: { readonly orders: OrderStore; readonly activity: ActivityLog; readonly policy?: ConsumerPolicy },
): Subscription {
  return bus.subscribe(
    ShipmentPrepared,
    {
      group: groupName(deps.policy, ORDER_STATUS_GROUP),
      ...subscriptionPolicy(deps.policy),
      timeoutMs: 10_000,
    },
    deps.orders.handleOnce(async (event, tx) => {
      const { orderId, shipmentId, carrier, preparedAt } = event.data;
      const found = await tx.markShipped(orderId, { shipmentId, carrier, shippedAt: preparedAt });
      // The order is written before its OrderPlaced exists, so this only happens for an order from
      // another system; retrying covers a replica that lags behind.
      if (!found) throw new UnknownOrderError(`no order ${orderId} for shipment ${shipmentId}`);
      deps.activity({ kind: 'order.shipped', orderId, shipmentId });
    }),
  );
}
