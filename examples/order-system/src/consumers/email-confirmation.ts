// Email confirmation: a consumer of OrderPlaced in a group of its own. The email provider is slow
// and fails now and then; none of that reaches the customer who placed the order, because the
// order was answered before this runs. Retries ride out the provider's hiccups, an address it
// refuses for good goes to the dead-letter topic at once, and the idempotency store makes sure a
// redelivered event does not email the customer twice.
import { type Bus, NonRetryableError, type Subscription } from '@tidings/core';
import { OrderPlaced } from '../contracts';
import { type EmailProvider, EmailRejectedError } from '../services/email-provider';
import { type ConsumerDeps, groupName, subscriptionPolicy } from './policy';

/** The consumer group: every group gets every OrderPlaced, the members of one group share them. */
export const EMAIL_GROUP = 'email-confirmation';

/**
 * Subscribes the email confirmation consumer.
 *
 * @example
 * ```ts
 * subscribeEmailConfirmation(bus, { email: provider, idempotency: store, activity: console.log });
 * ```
 */
export function subscribeEmailConfirmation(
  bus: Bus,
  deps: ConsumerDeps & { readonly email: EmailProvider },
): Subscription {
  return bus.subscribe(
    OrderPlaced,
    {
      group: groupName(deps.policy, EMAIL_GROUP),
      ...subscriptionPolicy(deps.policy),
      // A slow provider call is abandoned (ctx.signal aborts) and retried rather than held forever.
      timeoutMs: 15_000,
      // Claimed before sending, marked done after: a redelivery of a handled event is skipped. The
      // lease outlives the timeout, so a slow send is never taken over while it still runs.
      idempotency: { store: deps.idempotency, leaseMs: 60_000, ttlMs: 7 * 24 * 3_600_000 },
    },
    async (event, ctx) => {
      const order = event.data;
      try {
        await deps.email.send(
          {
            to: order.customerEmail,
            subject: `Order ${order.orderId} confirmed`,
            text: `We received your order of ${order.lines.length} item(s), total €${(order.totalCents / 100).toFixed(2)}.`,
            // The event id is the same on every redelivery: the provider's own dedup key.
            idempotencyKey: event.id,
          },
          ctx.signal,
        );
      } catch (error) {
        if (error instanceof EmailRejectedError) {
          throw new NonRetryableError(error.message, { cause: error });
        }
        deps.activity({
          kind: 'email.failed',
          orderId: order.orderId,
          attempt: ctx.attempt,
          error: error instanceof Error ? error.message : String(error),
        });
        throw error;
      }
      deps.activity({
        kind: 'email.sent',
        orderId: order.orderId,
        to: order.customerEmail,
        attempt: ctx.attempt,
      });
    },
  );
}
