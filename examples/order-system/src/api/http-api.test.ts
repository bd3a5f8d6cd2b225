// The API's answers on the critical path, on the in-memory setup: what is refused, with which
// status, and that a refusal gives back whatever was already held.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityRecorder } from '../activity';
import { createOrderSystem, type OrderSystem } from '../app';
import { loadConfig } from '../config';
import { createSimulatedPaymentService } from '../services/payment';

describe('order API', () => {
  const payments = createSimulatedPaymentService({ latencyMs: 1 });
  const recorder = createActivityRecorder();
  let system: OrderSystem;

  beforeAll(async () => {
    const config = loadConfig({ PORT: '0', PAYMENT_MS: '1', INVENTORY_MS: '1', WAREHOUSE_MS: '1' });
    system = await createOrderSystem({ config, downstream: { payments }, activity: recorder.log });
    await system.start();
  });
  afterAll(() => system.stop());

  const post = (body: unknown) =>
    system.http.inject({ method: 'POST', url: '/orders', payload: body as Record<string, unknown> });

  it('accepts an order with 202, a Location and the order id, and serves it back', async () => {
    const response = await post({
      customerEmail: 'ada@example.com',
      lines: [{ sku: 'tea-tin', quantity: 2 }],
    });
    expect(response.statusCode).toBe(202);
    const { orderId, status, totalCents } = response.json<{
      orderId: string;
      status: string;
      totalCents: number;
    }>();
    expect(status).toBe('placed');
    expect(totalCents).toBe(2500);
    expect(response.headers.location).toBe(`/orders/${orderId}`);

    const read = await system.http.inject({ method: 'GET', url: `/orders/${orderId}` });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ id: orderId, customerEmail: 'ada@example.com', totalCents: 2500 });
  });

  it('refuses a malformed request with 400 and every problem', async () => {
    const response = await post({ customerEmail: 'not-an-address', lines: [] });
    expect(response.statusCode).toBe(400);
    const body = response.json<{ error: string; issues: { path: string[] }[] }>();
    expect(body.error).toBe('invalid-request');
    expect(body.issues.map((issue) => issue.path[0]).sort()).toEqual(['customerEmail', 'lines']);
  });

  it('refuses an unknown product with 422 before calling anyone', async () => {
    const before = payments.authorized.size;
    const response = await post({
      customerEmail: 'ada@example.com',
      lines: [{ sku: 'unicorn', quantity: 1 }],
    });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error: 'unknown-sku' });
    expect(payments.authorized.size).toBe(before);
  });

  it('refuses a declined card with 402', async () => {
    const response = await post({
      customerEmail: 'bob@declined.example',
      lines: [{ sku: 'tea-tin', quantity: 1 }],
    });
    expect(response.statusCode).toBe(402);
    expect(response.json()).toMatchObject({ error: 'payment-declined' });
  });

  it('refuses an order it cannot fill with 409, and releases the payment it had authorized', async () => {
    const before = new Set(payments.authorized);
    const response = await post({
      customerEmail: 'ada@example.com',
      lines: [{ sku: 'sold-out-mug', quantity: 1 }],
    });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ error: 'out-of-stock' });
    expect(new Set(payments.authorized)).toEqual(before);
  });

  it('answers 404 for an order it does not know', async () => {
    const response = await system.http.inject({ method: 'GET', url: '/orders/no-such-order' });
    expect(response.statusCode).toBe(404);
  });

  it('reports health from the bus: broker connected, every consumer running', async () => {
    const response = await system.http.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    const health = response.json<{ status: string; consumers: { group: string; state: string }[] }>();
    expect(health.status).toBe('up');
    const groups = new Set(health.consumers.map((consumer) => consumer.group));
    expect([...groups].filter((group) => !group.includes('.dlq-monitor.')).sort()).toEqual([
      'analytics',
      'email-confirmation',
      'fulfilment',
      'order-status',
    ]);
    expect(groups).toContain('email-confirmation.dlq-monitor.shop.order.placed');
  });
});
