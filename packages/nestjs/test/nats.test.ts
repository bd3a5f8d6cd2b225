// A real Nest application (Express, HTTP) on a real broker, NATS JetStream: an event published
// from a request reaches a provider's handler; shutdown drains a running handler; a failing
// handler is retried and dead-lettered as its options say; the terminus health endpoint reports
// an outage of the broker (a private nats-server the test stops, never the shared one); a batch
// handler gets the requests' events in batches, and one event it fails comes back alone.
import 'reflect-metadata';
import type { Server } from 'node:http';
import {
  Body,
  Controller,
  Get,
  type INestApplication,
  Inject,
  Injectable,
  Module,
  Post,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import {
  type BatchContext,
  type BrokerAdapter,
  defaultDeadLetterTopic,
  type EventOf,
  type MessageContext,
  silentLogger,
} from '@tidings/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Subscribe, SubscribeBatch, TidingsBus, TidingsHealthIndicator, TidingsModule } from '../src/index';
import { OrderPlaced, uniqueName } from './support/events';
import { deleteStream, natsAdapter, PrivateNatsServer, requireNats } from './support/nats';
import { latch, Recorder } from './support/recorder';

const apps: INestApplication[] = [];
const prefixes: string[] = [];

beforeAll(requireNats);
afterEach(async () => {
  await Promise.allSettled(apps.splice(0).map((app) => app.close()));
});
afterAll(async () => {
  await Promise.allSettled(prefixes.map((prefix) => deleteStream(prefix)));
});

function prefix(): string {
  const name = uniqueName('nest');
  prefixes.push(name);
  return name;
}

@Injectable()
class OrdersService {
  constructor(@Inject(TidingsBus) private readonly bus: TidingsBus) {}

  async place(orderId: string, totalCents: number): Promise<string> {
    const { id } = await this.bus.publish(OrderPlaced, { orderId, totalCents });
    return id;
  }
}

@Controller('orders')
class OrdersController {
  constructor(@Inject(OrdersService) private readonly orders: OrdersService) {}

  @Post()
  async place(@Body() body: { orderId: string; totalCents: number }): Promise<{ id: string }> {
    return { id: await this.orders.place(body.orderId, body.totalCents) };
  }
}

@Controller('health')
class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(TidingsHealthIndicator) private readonly tidings: TidingsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.tidings.isHealthy('broker')]);
  }
}

/** Starts an HTTP application with the given handlers on a bus over `adapter`; returns its URL. */
async function startApp(
  adapter: () => BrokerAdapter,
  providers: Type[],
): Promise<{ app: INestApplication; url: string }> {
  @Module({
    imports: [
      TidingsModule.forRoot({ source: 'nest-test', adapter, logger: silentLogger }),
      TerminusModule.forRoot({ logger: false }),
    ],
    controllers: [OrdersController, HealthController],
    providers: [OrdersService, ...providers],
  })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false });
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as { port: number };
  return { app, url: `http://127.0.0.1:${port}` };
}

function placeOrder(url: string, orderId: string, totalCents = 100): Promise<Response> {
  return fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ orderId, totalCents }),
  });
}

describe('a Nest application on NATS JetStream', () => {
  it('delivers an event published in a request to a provider method', async () => {
    const recorder = new Recorder();
    @Injectable()
    class Emails {
      constructor(@Inject(OrdersService) readonly orders: OrdersService) {}
      @Subscribe(OrderPlaced, { group: 'email' })
      onOrderPlaced(event: EventOf<typeof OrderPlaced>, ctx: MessageContext): void {
        // `this` is the provider, with what was injected into it.
        expect(this.orders).toBeInstanceOf(OrdersService);
        recorder.add(`${event.data.orderId} ${event.source} attempt ${ctx.attempt}`);
      }
    }
    const name = prefix();
    const { url } = await startApp(() => natsAdapter(name), [Emails]);
    const response = await placeOrder(url, 'o-1');
    expect(response.status).toBe(201);
    expect(await recorder.until(1)).toEqual(['o-1 nest-test attempt 1']);
  });

  it('lets a running handler finish on shutdown, and settles its event', async () => {
    const release = latch();
    const started = new Recorder();
    const finished = new Recorder();
    @Injectable()
    class Slow {
      @Subscribe(OrderPlaced, { group: 'packing' })
      async onOrderPlaced(event: EventOf<typeof OrderPlaced>): Promise<void> {
        started.add(event.data.orderId);
        await release.promise;
        finished.add(event.data.orderId);
      }
    }
    const name = prefix();
    const { app, url } = await startApp(() => natsAdapter(name), [Slow]);
    await placeOrder(url, 'slow-1');
    await started.until(1);

    let closed = false;
    const closing = app.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(closed, 'the application closed while a handler was running').toBe(false);
    release.open();
    await closing;
    expect(finished.seen).toEqual(['slow-1']);

    // A new member of the group gets what comes next, not the drained event again: it was acked.
    const later = new Recorder();
    @Injectable()
    class Next {
      @Subscribe(OrderPlaced, { group: 'packing' })
      onOrderPlaced(event: EventOf<typeof OrderPlaced>): void {
        later.add(event.data.orderId);
      }
    }
    const second = await startApp(() => natsAdapter(name), [Next]);
    await placeOrder(second.url, 'after-1');
    expect(await later.until(1)).toEqual(['after-1']);
  });

  it('retries a failing handler as its options say, then dead-letters the event', async () => {
    const attempts = new Recorder<number>();
    const deadLetters = new Recorder<string>();
    @Injectable()
    class Billing {
      @Subscribe(OrderPlaced, { group: 'billing', retry: { maxAttempts: 3, initialDelayMs: 100, jitter: 0 } })
      onOrderPlaced(_event: EventOf<typeof OrderPlaced>, ctx: MessageContext): void {
        attempts.add(ctx.attempt);
        throw new Error('card declined');
      }

      @Subscribe(OrderPlaced, {
        group: 'billing-dlq',
        topic: defaultDeadLetterTopic(OrderPlaced.type, 'billing'),
      })
      onDeadLetter(event: EventOf<typeof OrderPlaced>, ctx: MessageContext): void {
        deadLetters.add(
          `${event.data.orderId}: ${ctx.record.headers['tidings-dlq-reason']} after ${ctx.record.headers['tidings-dlq-attempts']}`,
        );
      }
    }
    const name = prefix();
    const { url } = await startApp(() => natsAdapter(name), [Billing]);
    await placeOrder(url, 'declined-1');
    expect(await deadLetters.until(1, 15_000)).toEqual(['declined-1: Error: card declined after 3']);
    expect(attempts.seen).toEqual([1, 2, 3]);
  });

  it('hands a batch handler the events in batches, settling each on its own', async () => {
    type Placed = EventOf<typeof OrderPlaced>;
    const batches = new Recorder<string[]>();
    const attempts = new Recorder();
    @Injectable()
    class SearchIndexer {
      @SubscribeBatch(OrderPlaced, {
        group: 'search-index',
        retry: { maxAttempts: 3, initialDelayMs: 100, jitter: 0 },
        // Long enough for the four requests' events to meet in one batch on a loaded CI machine;
        // it costs the test two waits (the batch, then the retried event's own).
        batch: { maxSize: 10, maxWaitMs: 2_000 },
      })
      onOrdersPlaced(events: readonly Placed[], batch: BatchContext<Placed>): void {
        batches.add(events.map((event) => event.data.orderId));
        for (const event of events) {
          const { attempt } = batch.contextOf(event);
          attempts.add(`${event.data.orderId}@${attempt}`);
          if (event.data.totalCents === 0 && attempt === 1) batch.fail(event, new Error('nothing to index'));
        }
      }
    }
    const name = prefix();
    const { url } = await startApp(() => natsAdapter(name), [SearchIndexer]);
    const orders = ['b-1', 'b-2', 'b-3', 'b-4'];
    await Promise.all(orders.map((orderId) => placeOrder(url, orderId, orderId === 'b-3' ? 0 : 100)));
    const seen = await attempts.until(orders.length + 1, 15_000);
    expect([...seen].sort()).toEqual(['b-1@1', 'b-2@1', 'b-3@1', 'b-3@2', 'b-4@1']);
    // Redelivered alone: the events the handler did not fail were acknowledged with their batch.
    expect(batches.seen.at(-1)).toEqual(['b-3']);
    // Four orders in fewer calls than events: the broker's deliveries were gathered.
    expect(batches.seen.length).toBeLessThan(orders.length + 1);
  });

  describe('with a broker that goes down', () => {
    let server: PrivateNatsServer;
    beforeAll(async () => {
      server = await PrivateNatsServer.start();
    });
    afterAll(async () => {
      await server?.dispose();
    });

    async function health(url: string): Promise<{ code: number; body: Record<string, unknown> }> {
      const response = await fetch(`${url}/health`);
      return { code: response.status, body: (await response.json()) as Record<string, unknown> };
    }

    async function until(check: () => Promise<boolean>, what: string): Promise<void> {
      const deadline = Date.now() + 20_000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    it('reports the outage on the health endpoint, and the recovery', async () => {
      const name = prefix();
      const recorder = new Recorder();
      @Injectable()
      class Emails {
        @Subscribe(OrderPlaced, { group: 'email' })
        onOrderPlaced(event: EventOf<typeof OrderPlaced>): void {
          recorder.add(event.data.orderId);
        }
      }
      const { url } = await startApp(() => natsAdapter(name, server.url), [Emails]);
      const healthy = await health(url);
      expect(healthy.code).toBe(200);
      expect(healthy.body).toMatchObject({
        status: 'ok',
        info: { broker: { status: 'up', bus: 'up', adapter: 'nats', connection: 'connected' } },
      });

      await server.stop();
      let down: { code: number; body: Record<string, unknown> } | undefined;
      await until(async () => {
        down = await health(url);
        return down.code === 503;
      }, 'the health endpoint to report the outage');
      expect(down?.body).toMatchObject({
        status: 'error',
        error: { broker: { status: 'down', bus: 'down' } },
      });

      await server.resume();
      await until(async () => (await health(url)).code === 200, 'the health endpoint to report the recovery');
      await placeOrder(url, 'after-outage');
      expect(await recorder.until(1, 15_000)).toEqual(['after-outage']);
    });
  });
});
