// The synchronous version of the workflow, the one the seed material warns about: the order
// service calls payment, inventory, email and analytics (and, with five services, the warehouse)
// one after the other and answers when the last one has. It is written as carefully as the
// event-driven one (same validation, same compensation of what was held), so that the difference
// measured is the architecture. The command-queue design runs this same code with each service
// reached through RabbitMQ instead of HTTP (command-queue.ts).
import { uuidv7 } from '@tidings/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { PlaceOrderBody } from '../src/api/schemas';
import type { OrderLine } from '../src/contracts';
import { priceOf } from '../src/orders/catalog';
import type { Order } from '../src/orders/order';
import type { OrderStore } from '../src/orders/order-store';
import type { AnalyticsSink } from '../src/services/analytics-sink';
import type { EmailProvider } from '../src/services/email-provider';
import { type InventoryService, OutOfStockError } from '../src/services/inventory';
import { PaymentDeclinedError, type PaymentService } from '../src/services/payment';
import type { Warehouse } from '../src/services/warehouse';

/** The services the chain calls and the store it writes the order to. */
export interface SyncChainDeps {
  readonly payments: PaymentService;
  readonly inventory: InventoryService;
  readonly email: EmailProvider;
  readonly analytics: AnalyticsSink;
  /** The fifth service: when given, the chain has the shipment prepared before it answers. */
  readonly warehouse?: Warehouse;
  readonly orders: OrderStore;
}

/**
 * The order API of the synchronous chain: `POST /orders` answers 201 once every step is done,
 * or 502 when any step failed (after giving back the payment and the stock it held).
 */
export function createSyncOrderApi(deps: SyncChainDeps): FastifyInstance {
  const app = Fastify();
  app.post('/orders', async (request, reply) => {
    const body = PlaceOrderBody.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: 'invalid-request' });
    const lines: OrderLine[] = [];
    for (const line of body.data.lines) {
      const unitPriceCents = priceOf(line.sku);
      if (unitPriceCents === undefined) return reply.code(422).send({ error: 'unknown-sku' });
      lines.push({ ...line, unitPriceCents });
    }
    const totalCents = lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);
    const orderId = uuidv7();
    const { customerEmail } = body.data;

    let paymentId: string;
    try {
      ({ paymentId } = await deps.payments.authorize({ orderId, amountCents: totalCents, customerEmail }));
    } catch (error) {
      if (error instanceof PaymentDeclinedError) return reply.code(402).send({ error: 'payment-declined' });
      return reply.code(502).send({ error: 'payment-failed' });
    }
    let reservationId: string;
    try {
      ({ reservationId } = await deps.inventory.reserve({ orderId, lines }));
    } catch (error) {
      await Promise.allSettled([deps.payments.void(paymentId)]);
      if (error instanceof OutOfStockError) return reply.code(409).send({ error: 'out-of-stock' });
      return reply.code(502).send({ error: 'inventory-failed' });
    }
    const placedAt = new Date().toISOString();
    try {
      // The steps that the event-driven version moves off the request path.
      await deps.email.send({
        to: customerEmail,
        subject: `Order ${orderId} confirmed`,
        text: `We received your order, total €${(totalCents / 100).toFixed(2)}.`,
        idempotencyKey: orderId,
      });
      await deps.analytics.track({ name: 'order placed', orderId, revenueCents: totalCents, at: placedAt });
      await deps.warehouse?.prepareShipment({ orderId, lines });
    } catch {
      await Promise.allSettled([deps.payments.void(paymentId), deps.inventory.release(reservationId)]);
      return reply.code(502).send({ error: 'downstream-failed' });
    }
    const order: Order = {
      id: orderId,
      customerEmail,
      lines,
      totalCents,
      status: 'placed',
      paymentId,
      reservationId,
      placedAt,
    };
    await deps.orders.transaction((tx) => tx.insert(order));
    return reply.code(201).send({ orderId, status: order.status, totalCents });
  });
  return app;
}
