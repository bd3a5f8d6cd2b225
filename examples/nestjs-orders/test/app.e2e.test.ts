// The example end to end, as its README tells it: over HTTP, on the test bus (how to test your own
// handlers) and on NATS JetStream (a real broker), with a graceful shutdown.
import 'reflect-metadata';
import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { createTestBus } from '@tidings/core/testing';
import { TidingsBus } from '@tidings/nestjs';
import { connect } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { AppModule } from '../src/app.module';
import { MailerService } from '../src/notifications/mailer.service';

const apps: INestApplication[] = [];
afterEach(async () => {
  await Promise.allSettled(apps.splice(0).map((app) => app.close()));
});

async function listen(app: INestApplication): Promise<string> {
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

async function placeOrder(url: string, customerEmail: string, totalCents: number) {
  const response = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ customerEmail, totalCents }),
  });
  return { status: response.status, body: (await response.json()) as { id: string; issues?: unknown[] } };
}

async function untilShipped(url: string, id: string): Promise<{ status: string; carrier: string }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const order = (await (await fetch(`${url}/orders/${id}`)).json()) as { status: string; carrier: string };
    if (order.status === 'shipped') return order;
    if (Date.now() > deadline) throw new Error(`order ${id} not shipped: ${JSON.stringify(order)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the NestJS order example', () => {
  it('on the test bus: ships, confirms, retries a flaky email, dead-letters a refused one', async () => {
    const bus = createTestBus();
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(TidingsBus)
      .useValue(bus)
      .compile();
    const url = await listen(moduleRef.createNestApplication({ logger: false }));

    const placed = await placeOrder(url, 'ada@example.com', 12_500);
    expect(placed.status).toBe(202);
    await bus.waitFor({ group: 'email', outcome: 'handled' });
    expect(await untilShipped(url, placed.body.id)).toMatchObject({ status: 'shipped', carrier: 'ups' });

    const flaky = await placeOrder(url, 'flaky@example.com', 900);
    const [confirmed] = await bus.waitFor({
      group: 'email',
      outcome: 'handled',
      where: (d) => (d.data as { orderId: string }).orderId === flaky.body.id,
    });
    expect(confirmed?.attempt).toBe(2);

    const refused = await placeOrder(url, 'mallory@blocked.example', 900);
    const [dead] = await bus.waitFor({ group: 'email', outcome: 'deadLettered' });
    expect(dead?.reason).toContain('the provider refuses mallory@blocked.example');
    expect(moduleRef.get(MailerService).sent).toEqual([placed.body.id, flaky.body.id]);
    expect(refused.status).toBe(202);

    const invalid = await placeOrder(url, 'not an email', -1);
    expect(invalid.status).toBe(400);
    expect(invalid.body.issues).toHaveLength(2);
  });

  it('on NATS JetStream: the order is shipped, the health endpoint is up, shutdown is clean', async () => {
    const prefix = `nestex${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const servers = process.env.NATS_URL ?? '127.0.0.1:4222';
    Object.assign(process.env, { BROKER: 'nats', NATS_URL: servers, NATS_PREFIX: prefix });
    try {
      const app = await NestFactory.create(AppModule, { logger: false });
      const url = await listen(app);
      const placed = await placeOrder(url, 'ada@example.com', 1_250);
      expect(await untilShipped(url, placed.body.id)).toMatchObject({ carrier: 'dhl' });
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ info: { broker: { status: 'up', adapter: 'nats' } } });
      await app.close();
      expect(app.get(TidingsBus).health().adapter.state).toBe('closed');
    } finally {
      for (const name of ['BROKER', 'NATS_URL', 'NATS_PREFIX']) delete process.env[name];
      const connection = await connect({ servers, maxReconnectAttempts: 0 });
      const manager = await connection.jetstreamManager();
      await manager.streams.delete(prefix.toUpperCase()).catch(() => undefined);
      await connection.close();
    }
  });
});
