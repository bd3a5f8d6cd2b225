// End to end, over HTTP: orders go in through POST /orders and must all come out "shipped", with
// exactly one confirmation email each and revenue counted once, on every broker that has an
// adapter, and again when every record is published twice and redelivered after its ack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKERS } from '../src/config';
import type { Order } from '../src/orders/order';
import { type ChaosStats, withDuplicates } from './support/chaos-adapter';
import {
  brokerEnvironments,
  checkPostgres,
  DATABASE_URL,
  dropSchema,
  uniqueName,
} from './support/environments';
import { startTestSystem, type TestSystem } from './support/system';

const ORDERS = 24;
// The email provider refuses this address for good: dead-lettered at the first attempt.
const REFUSED_ADDRESS = 'mallory@blocked.example';
// Every attempt for this address fails: dead-lettered once the retries run out.
const UNREACHABLE_ADDRESS = 'ursula@unreachable.example';
const UNMAILABLE = new Set([REFUSED_ADDRESS, UNREACHABLE_ADDRESS]);

interface Placed {
  readonly orderId: string;
  readonly customerEmail: string;
  readonly totalCents: number;
}

async function placeOrders(url: string, count: number): Promise<Placed[]> {
  const orders = Array.from({ length: count }, (_, i) => ({
    // The last two orders' confirmations cannot be sent: they are dead-lettered, yet the orders
    // must still ship.
    customerEmail:
      i === count - 1 ? REFUSED_ADDRESS : i === count - 2 ? UNREACHABLE_ADDRESS : `customer${i}@example.com`,
    lines: [{ sku: i % 2 === 0 ? 'tea-tin' : 'cup-white', quantity: 1 + (i % 3) }],
  }));
  return Promise.all(
    orders.map(async (body) => {
      const response = await fetch(`${url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = (await response.json()) as { orderId: string; totalCents: number };
      expect(response.status, JSON.stringify(answer)).toBe(202);
      expect(response.headers.get('location')).toBe(`/orders/${answer.orderId}`);
      return { orderId: answer.orderId, customerEmail: body.customerEmail, totalCents: answer.totalCents };
    }),
  );
}

async function expectEveryOrderShipped(run: TestSystem, placed: readonly Placed[]): Promise<void> {
  const ids = new Set(placed.map((order) => order.orderId));
  const { recorder, email, analytics, url } = run;
  // Wait on what the consumers report, not on a clock.
  await recorder.waitFor((a) => a.kind === 'order.shipped' && ids.has(a.orderId), ids.size, 60_000);
  await recorder.waitFor(
    (a) => a.kind === 'email.sent' && ids.has(a.orderId),
    ids.size - UNMAILABLE.size,
    60_000,
  );
  // Both unmailable confirmations reach the dead-letter monitor, the one refused at once and the
  // one whose retries ran out (it carries the retry count of its last attempt).
  const unmailable = new Set(
    placed.filter((order) => UNMAILABLE.has(order.customerEmail)).map((o) => o.orderId),
  );
  await recorder.waitFor(
    (a) => a.kind === 'dead-letter' && a.group.endsWith('email-confirmation') && unmailable.has(a.orderId),
    unmailable.size,
    60_000,
  );
  await recorder.waitFor((a) => a.kind === 'analytics.tracked' && ids.has(a.orderId), ids.size * 2, 60_000);

  for (const { orderId, customerEmail } of placed) {
    const response = await fetch(`${url}/orders/${orderId}`);
    expect(response.status).toBe(200);
    const order = (await response.json()) as Order;
    expect(order.status, `order ${orderId}`).toBe('shipped');
    expect(order.customerEmail).toBe(customerEmail);
    expect(order.shipment?.shipmentId).toMatch(/^shp_/);
  }

  // Exactly one email per order that can be emailed, none for the other two.
  const perOrder = new Map<string, number>();
  for (const sent of email.sent) {
    const orderId = sent.subject.split(' ')[1]!;
    perOrder.set(orderId, (perOrder.get(orderId) ?? 0) + 1);
  }
  for (const { orderId, customerEmail } of placed) {
    expect(perOrder.get(orderId) ?? 0, `emails for ${orderId}`).toBe(UNMAILABLE.has(customerEmail) ? 0 : 1);
  }
  // Some first attempts failed and were retried: the retry path ran.
  expect(run.recorder.entries.some((a) => a.kind === 'email.failed')).toBe(true);

  // Revenue and shipments counted once each.
  const totals = analytics.totals();
  expect(totals.ordersPlaced).toBe(placed.length);
  expect(totals.ordersShipped).toBe(placed.length);
  expect(totals.revenueCents).toBe(placed.reduce((sum, order) => sum + order.totalCents, 0));
}

const STORES = ['memory', 'postgres'] as const;

for (const kind of BROKERS) {
  for (const store of STORES) {
    const environment = brokerEnvironments[kind];

    describe(`order system on ${kind}, ${store} storage`, () => {
      const namespaces: string[] = [];
      const isolated = () => {
        const namespace = uniqueName('e2e');
        namespaces.push(namespace);
        return {
          broker: environment.config(namespace),
          topicPrefix: `${namespace}.`,
          ...(store === 'postgres' ? { database: { url: DATABASE_URL, schema: namespace } } : {}),
        };
      };

      beforeAll(async () => {
        await environment.check();
        if (store === 'postgres') await checkPostgres();
      });
      afterAll(async () => {
        await Promise.all(
          namespaces.map(async (namespace) => {
            await environment.cleanup(namespace);
            if (store === 'postgres') await dropSchema(namespace);
          }),
        );
      });

      it('ships every order, emails each customer once and counts revenue once', async () => {
        const run = await startTestSystem(isolated());
        try {
          const placed = await placeOrders(run.url, ORDERS);
          await expectEveryOrderShipped(run, placed);
        } finally {
          await run.system.stop();
        }
      });

      it('still does, when every record is published twice and redelivered after its ack', async () => {
        const stats: ChaosStats = { duplicatedPublishes: 0, redeliveries: 0 };
        const run = await startTestSystem({
          ...isolated(),
          decorateAdapter: (adapter) => withDuplicates(adapter, stats),
        });
        try {
          const placed = await placeOrders(run.url, ORDERS);
          await expectEveryOrderShipped(run, placed);
          expect(stats.duplicatedPublishes).toBeGreaterThan(0);
          expect(stats.redeliveries).toBeGreaterThan(0);
          // The idempotency store and the inbox turned the duplicates away.
          const skipped = run.recorder.entries.filter((a) => a.kind === 'duplicate.skipped');
          expect(
            skipped.some((a) => a.kind === 'duplicate.skipped' && a.group.endsWith('email-confirmation')),
          ).toBe(true);
          expect(
            skipped.some((a) => a.kind === 'duplicate.skipped' && a.group.endsWith('order-status')),
          ).toBe(true);
        } finally {
          await run.system.stop();
        }
      });
    });
  }
}
