import { defineEvent } from '@tidings/core';
import { z } from 'zod';

export const OrderPlaced = defineEvent({
  type: 'shop.order.placed',
  schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
  key: (order) => order.orderId,
});

export const OrderShipped = defineEvent({
  type: 'shop.order.shipped',
  schema: z.object({ orderId: z.string() }),
  key: (order) => order.orderId,
});

/** Contracts on topics of one test's own, so that runs on a shared broker never meet. */
export function contractsOn(prefix: string) {
  return {
    OrderPlaced: defineEvent({
      type: 'shop.order.placed',
      topic: `${prefix}.order.placed`,
      schema: z.object({ orderId: z.string(), totalCents: z.number().int() }),
      key: (order) => order.orderId,
    }),
    OrderShipped: defineEvent({
      type: 'shop.order.shipped',
      topic: `${prefix}.order.shipped`,
      schema: z.object({ orderId: z.string() }),
      key: (order) => order.orderId,
    }),
  };
}

/** A name no other test run uses: the brokers are shared with CI and other developers. */
export function uniqueName(label: string): string {
  return `${label}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
}
