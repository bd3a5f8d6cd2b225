// The downstream services of the experiment, each a Fastify server on a port of its own, all in
// one child process: payment (300 ms), inventory (200 ms), email (400 ms, or slow, or down) and
// analytics (150 ms). They wrap the example's simulated services, so their only behaviour is
// time, and the email service's failures when it is down.
import Fastify, { type FastifyInstance } from 'fastify';
import { createSimulatedAnalyticsSink, type TrackedEvent } from '../src/services/analytics-sink';
import {
  createSimulatedEmailProvider,
  type EmailMessage,
  EmailRejectedError,
  EmailUnavailableError,
} from '../src/services/email-provider';
import {
  createSimulatedInventoryService,
  OutOfStockError,
  type ReservationRequest,
} from '../src/services/inventory';
import {
  createSimulatedPaymentService,
  PaymentDeclinedError,
  type PaymentRequest,
} from '../src/services/payment';
import type { DownstreamUrls } from './http-clients';
import { serveParent } from './ipc';

/** How the downstream services behave in one scenario. */
export interface DownstreamSettings {
  readonly paymentMs: number;
  readonly inventoryMs: number;
  readonly emailMs: number;
  /** `down`: the email service answers 503 at once to every call. */
  readonly emailDown: boolean;
  readonly analyticsMs: number;
}

/** What the services saw, since the last reset. */
export interface DownstreamStats {
  readonly emailCalls: number;
  readonly emailsSent: number;
  readonly analyticsTracked: number;
}

const servers: FastifyInstance[] = [];
let email: ReturnType<typeof createSimulatedEmailProvider> | undefined;
let analytics: ReturnType<typeof createSimulatedAnalyticsSink> | undefined;
let baseline = { emailCalls: 0, emailsSent: 0, analyticsTracked: 0 };

async function listen(app: FastifyInstance): Promise<string> {
  servers.push(app);
  return app.listen({ host: '127.0.0.1', port: 0 });
}

async function start(settings: DownstreamSettings): Promise<DownstreamUrls> {
  const payments = createSimulatedPaymentService({ latencyMs: settings.paymentMs });
  const inventory = createSimulatedInventoryService({ latencyMs: settings.inventoryMs });
  email = createSimulatedEmailProvider({
    latencyMs: settings.emailDown ? 0 : settings.emailMs,
    failureRate: settings.emailDown ? 1 : 0,
  });
  analytics = createSimulatedAnalyticsSink({ latencyMs: settings.analyticsMs });
  const sink = analytics;
  const provider = email;

  const payment = Fastify();
  payment.post('/authorize', async (request, reply) => {
    try {
      return await payments.authorize(request.body as PaymentRequest);
    } catch (error) {
      if (error instanceof PaymentDeclinedError) return reply.code(402).send(error.message);
      throw error;
    }
  });
  payment.post('/void', async (request, reply) => {
    await payments.void((request.body as { paymentId: string }).paymentId);
    return reply.code(204).send();
  });

  const stock = Fastify();
  stock.post('/reserve', async (request, reply) => {
    try {
      return await inventory.reserve(request.body as ReservationRequest);
    } catch (error) {
      if (error instanceof OutOfStockError) return reply.code(409).send({ sku: error.sku });
      throw error;
    }
  });
  stock.post('/release', async (request, reply) => {
    await inventory.release((request.body as { reservationId: string }).reservationId);
    return reply.code(204).send();
  });

  const mail = Fastify();
  mail.post('/send', async (request, reply) => {
    try {
      return reply.code(202).send(await provider.send(request.body as EmailMessage));
    } catch (error) {
      if (error instanceof EmailUnavailableError) return reply.code(503).send(error.message);
      if (error instanceof EmailRejectedError) return reply.code(422).send(error.message);
      throw error;
    }
  });

  const tracking = Fastify();
  tracking.post('/track', async (request, reply) => {
    await sink.track(request.body as TrackedEvent);
    return reply.code(204).send();
  });

  const [paymentUrl, inventoryUrl, emailUrl, analyticsUrl] = await Promise.all([
    listen(payment),
    listen(stock),
    listen(mail),
    listen(tracking),
  ]);
  return { payment: paymentUrl, inventory: inventoryUrl, email: emailUrl, analytics: analyticsUrl };
}

function current(): DownstreamStats {
  return {
    emailCalls: email?.calls ?? 0,
    emailsSent: email?.sent.length ?? 0,
    analyticsTracked: analytics?.tracked.length ?? 0,
  };
}

serveParent(
  {
    start: (settings: DownstreamSettings) => start(settings),
    stats: async () => {
      const now = current();
      return {
        emailCalls: now.emailCalls - baseline.emailCalls,
        emailsSent: now.emailsSent - baseline.emailsSent,
        analyticsTracked: now.analyticsTracked - baseline.analyticsTracked,
      } satisfies DownstreamStats;
    },
    reset: async () => {
      baseline = current();
    },
  },
  async () => {
    await Promise.all(servers.map((server) => server.close()));
  },
);
