// The HTTP API of the order service. It does only HTTP: parse, call the critical path, map the
// outcome to a status code. `202 Accepted` says what is true at that moment: the order is taken,
// paid and reserved, and the rest (email, fulfilment) is under way, visible at GET /orders/:id.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Order } from '../orders/order';
import type { PlaceOrderOutcome, PlaceOrderRequest } from '../orders/place-order';
import { OrderParams, PlaceOrderBody } from './schemas';

/** A readiness report: `up` and `degraded` serve traffic; `down` takes the instance out of rotation. */
export interface HealthReport {
  readonly status: 'up' | 'degraded' | 'down';
  readonly [detail: string]: unknown;
}

/** What the API calls. */
export interface HttpApiDeps {
  readonly placeOrder: (request: PlaceOrderRequest, signal: AbortSignal) => Promise<PlaceOrderOutcome>;
  readonly findOrder: (orderId: string) => Promise<Order | undefined>;
  readonly health: () => Promise<HealthReport>;
}

/** Settings of {@link createHttpApi}. */
export interface HttpApiOptions {
  /** Longest the critical path may take before the request fails with 504. Default 5,000 ms. */
  readonly requestTimeoutMs?: number;
  /** Fastify's request log (pino, JSON lines). Default false. */
  readonly logger?: boolean;
}

const REFUSAL_STATUS = { 'unknown-sku': 422, 'payment-declined': 402, 'out-of-stock': 409 } as const;

/**
 * Builds the Fastify app with its routes; the caller listens (or injects requests, in tests).
 *
 * @example
 * ```ts
 * const api = createHttpApi({ placeOrder, findOrder, health });
 * await api.listen({ port: 3000 });
 * ```
 */
export function createHttpApi(deps: HttpApiDeps, options: HttpApiOptions = {}): FastifyInstance {
  const requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
  const app = Fastify({ logger: options.logger ?? false });

  app.post('/orders', async (request, reply) => {
    const body = PlaceOrderBody.safeParse(request.body);
    if (!body.success) {
      return reply.code(400).send({ error: 'invalid-request', issues: body.error.issues });
    }
    let outcome: PlaceOrderOutcome;
    try {
      // A downstream that hangs must not hold the customer (or a connection) forever.
      outcome = await deps.placeOrder(body.data, AbortSignal.timeout(requestTimeoutMs));
    } catch (error) {
      if (error instanceof DOMException && error.name === 'TimeoutError') {
        return reply
          .code(504)
          .send({ error: 'timeout', message: 'a downstream service did not answer in time' });
      }
      throw error;
    }
    if (outcome.type === 'refused') {
      return reply
        .code(REFUSAL_STATUS[outcome.reason])
        .send({ error: outcome.reason, message: outcome.message });
    }
    const { order } = outcome;
    return reply
      .code(202)
      .header('location', `/orders/${order.id}`)
      .send({ orderId: order.id, status: order.status, totalCents: order.totalCents });
  });

  app.get('/orders/:id', async (request, reply) => {
    const params = OrderParams.safeParse(request.params);
    const order = params.success ? await deps.findOrder(params.data.id) : undefined;
    if (order === undefined) return reply.code(404).send({ error: 'not-found' });
    return order;
  });

  app.get('/health', async (_request, reply) => {
    const health = await deps.health();
    // `degraded` still serves (orders are taken, their events wait): only `down` is unready.
    return reply.code(health.status === 'down' ? 503 : 200).send(health);
  });

  return app;
}
