// The example's service interfaces over HTTP: what a team writes when payment, inventory, email,
// analytics and the warehouse are services of their own. Every design of the experiment calls the
// downstream services through these, so the cost of an HTTP hop is the same in each.
import type { AnalyticsSink } from '../src/services/analytics-sink';
import {
  type EmailProvider,
  EmailRejectedError,
  EmailUnavailableError,
} from '../src/services/email-provider';
import { type InventoryService, OutOfStockError } from '../src/services/inventory';
import { PaymentDeclinedError, type PaymentService } from '../src/services/payment';
import type { Shipment, Warehouse } from '../src/services/warehouse';

/** The base URL of each downstream service. */
export interface DownstreamUrls {
  readonly payment: string;
  readonly inventory: string;
  readonly email: string;
  readonly analytics: string;
  readonly warehouse: string;
}

/** An answer the client did not expect: the service is broken, not refusing. */
export class DownstreamError extends Error {
  override readonly name = 'DownstreamError';
  constructor(
    readonly service: string,
    readonly status: number,
  ) {
    super(`${service} answered ${status}`);
  }
}

async function call(url: string, body: unknown, signal: AbortSignal | undefined): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal === undefined ? {} : { signal }),
  });
}

/** Payment over HTTP: 200 authorized, 402 declined. */
export function httpPayments(baseUrl: string): PaymentService {
  return {
    async authorize(request, signal) {
      const response = await call(`${baseUrl}/authorize`, request, signal);
      if (response.status === 402) throw new PaymentDeclinedError(await response.text());
      if (!response.ok) throw new DownstreamError('payment', response.status);
      return (await response.json()) as { paymentId: string };
    },
    async void(paymentId) {
      const response = await call(`${baseUrl}/void`, { paymentId }, undefined);
      if (!response.ok) throw new DownstreamError('payment', response.status);
      await response.body?.cancel();
    },
  };
}

/** Inventory over HTTP: 200 reserved, 409 out of stock. */
export function httpInventory(baseUrl: string): InventoryService {
  return {
    async reserve(request, signal) {
      const response = await call(`${baseUrl}/reserve`, request, signal);
      if (response.status === 409)
        throw new OutOfStockError(((await response.json()) as { sku: string }).sku);
      if (!response.ok) throw new DownstreamError('inventory', response.status);
      return (await response.json()) as { reservationId: string };
    },
    async release(reservationId) {
      const response = await call(`${baseUrl}/release`, { reservationId }, undefined);
      if (!response.ok) throw new DownstreamError('inventory', response.status);
      await response.body?.cancel();
    },
  };
}

/** Email over HTTP: 202 sent, 503 unavailable (retry), 422 refused (do not). */
export function httpEmail(baseUrl: string): EmailProvider {
  return {
    async send(message, signal) {
      const response = await call(`${baseUrl}/send`, message, signal);
      if (response.status === 503) throw new EmailUnavailableError(await response.text());
      if (response.status === 422) throw new EmailRejectedError(await response.text());
      if (!response.ok) throw new DownstreamError('email', response.status);
      return (await response.json()) as { messageId: string };
    },
  };
}

/** Analytics over HTTP: 204 tracked. */
export function httpAnalytics(baseUrl: string): AnalyticsSink {
  return {
    async track(event, signal) {
      const response = await call(`${baseUrl}/track`, event, signal);
      if (!response.ok) throw new DownstreamError('analytics', response.status);
      await response.body?.cancel();
    },
  };
}

/** The warehouse over HTTP: 200 with the shipment. */
export function httpWarehouse(baseUrl: string): Warehouse {
  return {
    async prepareShipment(request, signal) {
      const response = await call(`${baseUrl}/prepare`, request, signal);
      if (!response.ok) throw new DownstreamError('warehouse', response.status);
      return (await response.json()) as Shipment;
    },
  };
}
