import { z } from 'zod';
import { defineEvent } from '../../src/contracts/define-event';

/** Contracts shared by the bus tests. */
export const OrderPlaced = defineEvent({
  type: 'order.placed',
  version: 2,
  schema: z.object({ orderId: z.string(), total: z.number().nonnegative(), currency: z.string().length(3) }),
  key: (data) => data.orderId,
  subject: (data) => data.orderId,
  upcasters: { 1: (v1: { orderId: string; total: number }) => ({ ...v1, currency: 'EUR' }) },
});

/** The first version of OrderPlaced, as an older producer still publishes it. */
export const OrderPlacedV1 = defineEvent({
  type: 'order.placed',
  version: 1,
  schema: z.object({ orderId: z.string(), total: z.number() }),
  key: (data) => data.orderId,
});

export const OrderShipped = defineEvent({
  type: 'order.shipped',
  topic: 'order.placed',
  schema: {
    type: 'object',
    properties: { orderId: { type: 'string' }, carrier: { type: 'string' } },
    required: ['orderId', 'carrier'],
    additionalProperties: false,
  },
  key: (data) => data.orderId,
});

export const order = (orderId: string, total = 10) => ({ orderId, total, currency: 'EUR' });
