// The downstream services of the experiment, each a Fastify server on a port of its own, all in
// one child process: payment, inventory, email, analytics and the warehouse. They wrap the
// example's simulated services, so their behaviour is time, plus what a run asks for:
// - a capacity: at most so many requests handled at once, the rest waiting in a first-in,
//   first-out queue in front (p-limit), as a service with a fixed pool of workers has;
// - faults: a share of calls answered 503 at once, and a share that stall (held for a while
//   before the work starts). Which calls fail is decided by a hash of the service, the customer
//   and the attempt, so the same customer request meets the same faults in every design.
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import pLimit from 'p-limit';
import { createSimulatedAnalyticsSink, type TrackedEvent } from '../src/services/analytics-sink';
import { createSimulatedEmailProvider, type EmailMessage } from '../src/services/email-provider';
import {
  createSimulatedInventoryService,
  OutOfStockError,
  type ReservationRequest,
} from '../src/services/inventory';
import { simulateCall } from '../src/services/latency';
import {
  createSimulatedPaymentService,
  PaymentDeclinedError,
  type PaymentRequest,
} from '../src/services/payment';
import { createSimulatedWarehouse } from '../src/services/warehouse';
import type { DownstreamUrls } from './http-clients';
import { serveParent } from './ipc';
import {
  type DownstreamSettings,
  type DownstreamStats,
  draw,
  SERVICES,
  type ServiceName,
  type ServiceSettings,
  type ServiceStats,
} from './services';

/** A service's queue and slots, with the time-weighted figures of its use. */
interface Gate {
  run<T>(work: () => Promise<T>): Promise<T>;
  stats(): Pick<ServiceStats, 'peakWaiting' | 'meanWaiting' | 'utilization'>;
  reset(): void;
}

function createGate(capacity: number | undefined): Gate {
  const limit = capacity === undefined ? undefined : pLimit(capacity);
  let active = 0;
  let since = performance.now();
  let last = since;
  let waitingArea = 0;
  let activeArea = 0;
  let peakWaiting = 0;
  const waiting = (): number => limit?.pendingCount ?? 0;
  // Integrates the queue and the slots in use over the time since the last change.
  const tick = (): void => {
    const now = performance.now();
    waitingArea += waiting() * (now - last);
    activeArea += active * (now - last);
    last = now;
  };
  const work = async <T>(body: () => Promise<T>): Promise<T> => {
    tick();
    active++;
    try {
      return await body();
    } finally {
      tick();
      active--;
    }
  };
  return {
    async run(body) {
      if (limit === undefined) return work(body);
      tick();
      const result = limit(() => work(body));
      peakWaiting = Math.max(peakWaiting, waiting());
      return result;
    },
    stats() {
      tick();
      const span = Math.max(1, last - since);
      return {
        peakWaiting,
        meanWaiting: waitingArea / span,
        utilization: activeArea / span / (capacity ?? 1),
      };
    },
    reset() {
      tick();
      since = last;
      waitingArea = 0;
      activeArea = 0;
      peakWaiting = waiting();
    },
  };
}

// What `serve` returns when the fault schedule answered the call itself.
const ANSWERED = Symbol('answered by the fault schedule');

const servers: FastifyInstance[] = [];
let current: (() => DownstreamStats) | undefined;
let resetAll: () => void = () => undefined;

async function listen(app: FastifyInstance): Promise<string> {
  servers.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

async function start(settings: DownstreamSettings): Promise<DownstreamUrls> {
  const seed = settings.faultSeed ?? 'tidings';
  const of = (service: ServiceName): ServiceSettings => settings.services[service];
  const payments = createSimulatedPaymentService({ latencyMs: of('payment').latencyMs });
  const inventory = createSimulatedInventoryService({ latencyMs: of('inventory').latencyMs });
  const email = createSimulatedEmailProvider({ latencyMs: of('email').latencyMs });
  const analytics = createSimulatedAnalyticsSink({ latencyMs: of('analytics').latencyMs });
  const warehouse = createSimulatedWarehouse({ latencyMs: of('warehouse').latencyMs });

  // Services that see only the order id find its customer here: every order starts at payment.
  const customerOf = new Map<string, string>();
  const attempts = new Map<string, number>();
  const faulted = new Set<string>();
  const counts = new Map(SERVICES.map((s) => [s, { calls: 0, failed: 0, stalled: 0 }]));
  const gates = new Map(SERVICES.map((s) => [s, createGate(of(s).capacity)]));

  // One call of a service: the fault schedule first, then a slot, then the work. Compensations
  // (void, release) take a slot but meet no faults: a fault there would hide the one that caused it.
  const serve = async <T>(
    service: ServiceName,
    customer: string | undefined,
    reply: FastifyReply,
    body: () => Promise<T>,
  ): Promise<T | typeof ANSWERED> => {
    const behaviour = of(service);
    const gate = gates.get(service)!;
    if (customer === undefined) return gate.run(body);
    const count = counts.get(service)!;
    count.calls++;
    const attemptKey = `${service}:${customer}`;
    const attempt = (attempts.get(attemptKey) ?? 0) + 1;
    attempts.set(attemptKey, attempt);
    const roll = draw(`${seed}:${attemptKey}:${attempt}`);
    const failShare = behaviour.failShare ?? 0;
    if (roll < failShare) {
      count.failed++;
      faulted.add(customer);
      await reply.code(503).send(`${service} unavailable (injected)`);
      return ANSWERED;
    }
    const stall = roll < failShare + (behaviour.stallShare ?? 0);
    if (stall) {
      count.stalled++;
      faulted.add(customer);
    }
    return gate.run(async () => {
      if (stall) await simulateCall({ latencyMs: behaviour.stallMs ?? 0 });
      return body();
    });
  };
  const customerOfOrder = (orderId: string): string => customerOf.get(orderId) ?? orderId;

  const payment = Fastify();
  payment.post('/authorize', async (request, reply) => {
    const body = request.body as PaymentRequest;
    customerOf.set(body.orderId, body.customerEmail);
    try {
      const result = await serve('payment', body.customerEmail, reply, () => payments.authorize(body));
      return result === ANSWERED ? reply : result;
    } catch (error) {
      if (error instanceof PaymentDeclinedError) return reply.code(402).send(error.message);
      throw error;
    }
  });
  payment.post('/void', async (request, reply) => {
    await serve('payment', undefined, reply, () =>
      payments.void((request.body as { paymentId: string }).paymentId),
    );
    return reply.code(204).send();
  });

  const stock = Fastify();
  stock.post('/reserve', async (request, reply) => {
    const body = request.body as ReservationRequest;
    try {
      const result = await serve('inventory', customerOfOrder(body.orderId), reply, () =>
        inventory.reserve(body),
      );
      return result === ANSWERED ? reply : result;
    } catch (error) {
      if (error instanceof OutOfStockError) return reply.code(409).send({ sku: error.sku });
      throw error;
    }
  });
  stock.post('/release', async (request, reply) => {
    await serve('inventory', undefined, reply, () =>
      inventory.release((request.body as { reservationId: string }).reservationId),
    );
    return reply.code(204).send();
  });

  const mail = Fastify();
  mail.post('/send', async (request, reply) => {
    const message = request.body as EmailMessage;
    const result = await serve('email', message.to, reply, () => email.send(message));
    return result === ANSWERED ? reply : reply.code(202).send(result);
  });

  const tracking = Fastify();
  tracking.post('/track', async (request, reply) => {
    const event = request.body as TrackedEvent;
    const result = await serve('analytics', customerOfOrder(event.orderId), reply, () =>
      analytics.track(event),
    );
    return result === ANSWERED ? reply : reply.code(204).send();
  });

  const packing = Fastify();
  packing.post('/prepare', async (request, reply) => {
    const body = request.body as Parameters<typeof warehouse.prepareShipment>[0];
    const result = await serve('warehouse', customerOfOrder(body.orderId), reply, () =>
      warehouse.prepareShipment(body),
    );
    return result === ANSWERED ? reply : result;
  });

  let baseline = { emailsSent: 0, analyticsTracked: 0 };
  const totals = () => ({
    emailsSent: email.sent.length,
    analyticsTracked: analytics.tracked.length,
  });
  current = () => {
    const now = totals();
    return {
      emailsSent: now.emailsSent - baseline.emailsSent,
      analyticsTracked: now.analyticsTracked - baseline.analyticsTracked,
      services: Object.fromEntries(
        SERVICES.map((s) => [s, { ...counts.get(s)!, ...gates.get(s)!.stats() }]),
      ) as Record<ServiceName, ServiceStats>,
      faultedCustomers: [...faulted],
    };
  };
  resetAll = () => {
    baseline = totals();
    for (const s of SERVICES) {
      counts.set(s, { calls: 0, failed: 0, stalled: 0 });
      gates.get(s)!.reset();
    }
    attempts.clear();
    faulted.clear();
    customerOf.clear();
  };

  const [paymentUrl, inventoryUrl, emailUrl, analyticsUrl, warehouseUrl] = await Promise.all([
    listen(payment),
    listen(stock),
    listen(mail),
    listen(tracking),
    listen(packing),
  ]);
  return {
    payment: paymentUrl,
    inventory: inventoryUrl,
    email: emailUrl,
    analytics: analyticsUrl,
    warehouse: warehouseUrl,
  };
}

serveParent(
  {
    start: (settings: DownstreamSettings) => start(settings),
    stats: async () => {
      if (current === undefined) throw new Error('the downstream services were not started');
      return current();
    },
    reset: async () => {
      resetAll();
    },
  },
  async () => {
    await Promise.all(servers.map((server) => server.close()));
  },
);
