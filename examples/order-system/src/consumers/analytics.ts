// Analytics: one consumer group on two contracts. It records revenue when an order is placed and
// the time to ship when its shipment is prepared. A duplicate would inflate the revenue, so it
// deduplicates like the email consumer does.
import type { Bus, Subscription } from '@tidings/core';
import { OrderPlaced, ShipmentPrepared } from '../contracts';
import type { AnalyticsSink } from '../services/analytics-sink';
import { type ConsumerDeps, groupName, subscriptionPolicy } from './policy';

export const ANALYTICS_GROUP = 'analytics';

/**
 * Subscribes the analytics consumer.
 *
 * @example
 * ```ts
 * subscribeAnalytics(bus, { analytics: sink, idempotency: store, activity: console.log });
 * ```
 */
export function subscribeAnalytics(
  bus: Bus,
  deps: ConsumerDeps & { readonly analytics: AnalyticsSink },
): Subscription {
  // Both contracts share the order id as their key, so per-key ordering delivers an order's
  // OrderPlaced before its ShipmentPrepared on brokers that order by key.
  return bus.subscribe(
    [OrderPlaced, ShipmentPrepared],
    {
      group: groupName(deps.policy, ANALYTICS_GROUP),
      ...subscriptionPolicy(deps.policy),
      timeoutMs: 10_000,
      idempotency: { store: deps.idempotency, ttlMs: 7 * 24 * 3_600_000 },
    },
    async (event, ctx) => {
      // `event.type` discriminates the union: `event.data` is typed for each contract.
      if (event.type === OrderPlaced.type) {
        await deps.analytics.track(
          {
            name: 'order placed',
            orderId: event.data.orderId,
            revenueCents: event.data.totalCents,
            at: event.data.placedAt,
          },
          ctx.signal,
        );
        deps.activity({ kind: 'analytics.tracked', orderId: event.data.orderId, name: 'order placed' });
        return;
      }
      await deps.analytics.track(
        {
          name: 'order shipped',
          orderId: event.data.orderId,
          at: event.data.preparedAt,
          fulfilmentMs: Date.parse(event.data.preparedAt) - Date.parse(event.data.orderPlacedAt),
        },
        ctx.signal,
      );
      deps.activity({ kind: 'analytics.tracked', orderId: event.data.orderId, name: 'order shipped' });
    },
  );
}
