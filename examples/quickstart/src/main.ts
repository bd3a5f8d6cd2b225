// The smallest Tidings app: an order service publishes OrderPlaced; an email sender and an
// analytics counter react to it independently, each in its own consumer group. The email
// provider fails now and then: retries absorb that, and an order whose address is refused lands
// in the dead-letter topic instead of blocking the rest. Everything runs in one process on the
// in-memory broker; swap the adapter to run the same code on Kafka, RabbitMQ, NATS or Redis.
import { createBus, createMemoryAdapter, NonRetryableError } from '@tidings/core';
import { OrderPlaced } from './events';

/** What the demo did, for its test and for the reader. */
export interface QuickstartReport {
  readonly emailsSent: readonly string[];
  readonly revenueCents: number;
  readonly deadLetters: readonly { orderId: string; reason: string }[];
  readonly emailAttempts: number;
}

export async function runQuickstart(log: (line: string) => void = console.log): Promise<QuickstartReport> {
  const bus = createBus({
    source: 'quickstart/order-service',
    adapter: createMemoryAdapter(),
    // Short retry delays keep the demo quick; production defaults start at one second.
    subscriptionDefaults: { retry: { maxAttempts: 4, initialDelayMs: 20 } },
  });

  // Each order ends twice: once emailed or dead-lettered, once counted by analytics.
  const orderCount = 4;
  let ended = 0;
  let allEnded!: () => void;
  const everythingDone = new Promise<void>((resolve) => {
    allEnded = resolve;
  });
  const end = (): void => {
    if (++ended === orderCount * 2) allEnded();
  };

  const emailsSent: string[] = [];
  let emailAttempts = 0;
  bus.subscribe(OrderPlaced, { group: 'email' }, async (event, ctx) => {
    emailAttempts++;
    const { orderId, customerEmail } = event.data;
    if (customerEmail.endsWith('@blocked.example')) {
      throw new NonRetryableError(`provider refuses ${customerEmail}`);
    }
    // A flaky provider: the first attempt of every third order fails.
    if (Number(orderId.slice(-1)) % 3 === 0 && ctx.attempt === 1) {
      throw new Error('email provider timed out');
    }
    emailsSent.push(orderId);
    log(`email      sent confirmation for ${orderId} (attempt ${ctx.attempt})`);
    end();
  });

  let revenueCents = 0;
  bus.subscribe(OrderPlaced, { group: 'analytics' }, (event) => {
    revenueCents += event.data.totalCents;
    log(`analytics  revenue is now ${(revenueCents / 100).toFixed(2)} after ${event.data.orderId}`);
    end();
  });

  const deadLetters: { orderId: string; reason: string }[] = [];
  bus.subscribe(
    OrderPlaced,
    { group: 'email-dlq', topic: bus.deadLetterTopicOf(OrderPlaced, 'email') },
    (event, ctx) => {
      const reason = ctx.record.headers['tidings-dlq-reason'] ?? 'unknown';
      deadLetters.push({ orderId: event.data.orderId, reason });
      log(`dead-letter ${event.data.orderId}: ${reason}`);
      end();
    },
  );

  await bus.start();
  const orders = [
    { orderId: 'order-1', customerEmail: 'ada@example.com', totalCents: 1250 },
    { orderId: 'order-2', customerEmail: 'linus@example.com', totalCents: 4999 },
    { orderId: 'order-3', customerEmail: 'grace@example.com', totalCents: 300 },
    { orderId: 'order-4', customerEmail: 'mallory@blocked.example', totalCents: 999 },
  ];
  for (const order of orders.slice(0, orderCount)) {
    const published = await bus.publish(OrderPlaced, order);
    log(`orders     placed ${order.orderId} as event ${published.id}`);
  }

  await everythingDone;
  log(`health     ${JSON.stringify(bus.health().status)}`);
  await bus.stop();
  return { emailsSent, revenueCents, deadLetters, emailAttempts };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runQuickstart();
}
