import { randomUUID } from 'node:crypto';
import { type SimulatedLatency, simulateCall } from './latency';

/** What the order service asks of the payment provider. */
export interface PaymentService {
  /** Authorizes (holds) the amount; rejects with {@link PaymentDeclinedError} when refused. */
  authorize(request: PaymentRequest, signal?: AbortSignal): Promise<{ readonly paymentId: string }>;
  /** Releases an authorization: the compensation when the order cannot go on after all. */
  void(paymentId: string): Promise<void>;
}

export interface PaymentRequest {
  readonly orderId: string;
  readonly amountCents: number;
  readonly customerEmail: string;
}

/** The provider refused the payment; the customer must use another card. Not worth retrying. */
export class PaymentDeclinedError extends Error {
  override readonly name = 'PaymentDeclinedError';
}

/** Settings of {@link createSimulatedPaymentService}. */
export interface SimulatedPaymentOptions extends SimulatedLatency {
  /** Amounts above this are declined, as a card limit would. Default 500,000 cents. */
  readonly limitCents?: number;
}

/**
 * A payment provider that answers after `latencyMs`, declines amounts above a limit and addresses
 * at `declined.example`, and remembers the authorizations it holds.
 *
 * @example
 * ```ts
 * const payments = createSimulatedPaymentService({ latencyMs: 300 });
 * const { paymentId } = await payments.authorize({ orderId: 'o-1', amountCents: 4200, customerEmail: 'ada@example.com' });
 * ```
 */
export function createSimulatedPaymentService(
  options: SimulatedPaymentOptions,
): PaymentService & { readonly authorized: ReadonlySet<string> } {
  const limitCents = options.limitCents ?? 500_000;
  const authorized = new Set<string>();
  return {
    authorized,
    async authorize(request, signal) {
      await simulateCall(options, signal);
      if (request.amountCents > limitCents) {
        throw new PaymentDeclinedError(`amount ${request.amountCents} is above the card limit`);
      }
      if (request.customerEmail.endsWith('@declined.example')) {
        throw new PaymentDeclinedError('the card was declined');
      }
      const paymentId = `pay_${randomUUID()}`;
      authorized.add(paymentId);
      return { paymentId };
    },
    async void(paymentId) {
      await simulateCall(options);
      authorized.delete(paymentId);
    },
  };
}
