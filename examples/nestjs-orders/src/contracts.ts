// The events this service shares with others. In a real system they live in a package that
// producers and consumers both depend on, like an API schema.
import { defineEvent } from '@tidings/core';
import { z } from 'zod';

export const OrderPlaced = defineEvent({
  type: 'shop.order.placed',
  version: 1,
  schema: z.object({
    orderId: z.string().min(1),
    customerEmail: z.email(),
    totalCents: z.number().int().positive(),
  }),
  // The events of one order keep their order on brokers that order by key.
  key: (order) => order.orderId,
});

export const OrderShipped = defineEvent({
  type: 'shop.order.shipped',
  version: 1,
  schema: z.object({ orderId: z.string(), carrier: z.enum(['dhl', 'ups']) }),
  key: (shipment) => shipment.orderId,
});
