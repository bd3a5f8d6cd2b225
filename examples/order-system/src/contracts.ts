// The events the services of the order system exchange: the one module every service imports,
// the way they would share an API schema. Events are facts in the past tense; a consumer never
// asks a producer for anything, it reacts to what happened.
import { defineEvent } from '@tidings/core';
import { z } from 'zod';

/** One line of an order, priced when the order was placed. */
export const OrderLine = z.object({
  sku: z.string().min(1),
  quantity: z.number().int().positive(),
  unitPriceCents: z.number().int().nonnegative(),
});
export type OrderLine = z.infer<typeof OrderLine>;

/**
 * The order service accepted an order: the payment is authorized and the stock reserved. Written
 * in the same transaction as the order itself (through the outbox), so it exists if and only if
 * the order does.
 */
export const OrderPlaced = defineEvent({
  type: 'shop.order.placed',
  version: 1,
  description: 'An order was accepted: payment authorized, stock reserved.',
  schema: z.object({
    orderId: z.string().min(1),
    customerEmail: z.email(),
    lines: z.array(OrderLine).min(1),
    totalCents: z.number().int().nonnegative(),
    paymentId: z.string().min(1),
    reservationId: z.string().min(1),
    placedAt: z.iso.datetime(),
  }),
  // Every event about one order goes to one partition, so consumers see them in order.
  key: (order) => order.orderId,
  subject: (order) => order.orderId,
});

/**
 * The warehouse packed an order and booked a carrier. The order service reacts by marking the
 * order shipped; analytics measures the time from placing to shipping.
 */
export const ShipmentPrepared = defineEvent({
  type: 'shop.shipment.prepared',
  version: 1,
  description: 'The warehouse packed an order and booked a carrier.',
  schema: z.object({
    orderId: z.string().min(1),
    shipmentId: z.string().min(1),
    carrier: z.enum(['dhl', 'ups', 'postnl']),
    preparedAt: z.iso.datetime(),
    // Carried along so that consumers need not have kept the OrderPlaced to measure lead times.
    orderPlacedAt: z.iso.datetime(),
  }),
  key: (shipment) => shipment.orderId,
  subject: (shipment) => shipment.orderId,
});

/** Every contract of the system, for tools that list or document them. */
export const contracts = [OrderPlaced, ShipmentPrepared] as const;
