import { defineEvent } from '@tidings/core';
import { z } from 'zod';

/** A fact the order service publishes once an order is accepted. */
export const OrderPlaced = defineEvent({
  type: 'shop.order.placed',
  schema: z.object({
    orderId: z.string(),
    customerEmail: z.email(),
    totalCents: z.number().int().nonnegative(),
  }),
  key: (order) => order.orderId,
  subject: (order) => order.orderId,
});
