import { randomUUID } from 'node:crypto';
import { type SimulatedLatency, simulateCall } from './latency';

/** An email to send. */
export interface EmailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /**
   * Names the message for the provider's own deduplication, where it has some: a retry after a
   * timeout whose first call did go through is then not sent twice.
   */
  readonly idempotencyKey: string;
}

/** What the email consumer needs from an email provider. */
export interface EmailProvider {
  send(message: EmailMessage, signal?: AbortSignal): Promise<{ readonly messageId: string }>;
}

/** The provider could not take the message now (overloaded, timed out): worth retrying. */
export class EmailUnavailableError extends Error {
  override readonly name = 'EmailUnavailableError';
}

/** The provider refuses the address for good: retrying cannot help. */
export class EmailRejectedError extends Error {
  override readonly name = 'EmailRejectedError';
}

/** Settings of {@link createSimulatedEmailProvider}. */
export interface SimulatedEmailOptions extends SimulatedLatency {
  /**
   * Share of calls that fail with {@link EmailUnavailableError} after the latency, drawn at random.
   * Default 0.
   */
  readonly failureRate?: number;
  /** Decides failures instead of `failureRate`, for tests that need them deterministic. */
  readonly fails?: (message: EmailMessage, call: number) => boolean;
}

/** One email the simulated provider accepted. */
export interface SentEmail extends EmailMessage {
  readonly messageId: string;
  readonly sentAt: Date;
}

/**
 * An email provider that is slow and fails now and then, as real ones do, and keeps what it sent
 * so that a test can check that nobody got two confirmations. Addresses at `blocked.example` are
 * refused for good.
 *
 * @example
 * ```ts
 * const email = createSimulatedEmailProvider({ latencyMs: 400, jitterMs: 150, failureRate: 0.2 });
 * await email.send({ to: 'ada@example.com', subject: 'Hi', text: '...', idempotencyKey: 'evt-1' });
 * console.log(email.sent.length);
 * ```
 */
export function createSimulatedEmailProvider(
  options: SimulatedEmailOptions,
): EmailProvider & { readonly sent: readonly SentEmail[]; readonly calls: number } {
  const sent: SentEmail[] = [];
  const failureRate = options.failureRate ?? 0;
  const fails = options.fails ?? (() => Math.random() < failureRate);
  let calls = 0;
  return {
    sent,
    get calls() {
      return calls;
    },
    async send(message, signal) {
      const call = ++calls;
      await simulateCall(options, signal);
      if (message.to.endsWith('@blocked.example')) {
        throw new EmailRejectedError(`the provider refuses ${message.to}`);
      }
      // The failure happens before anything is delivered: the message was not sent.
      if (fails(message, call)) throw new EmailUnavailableError('email provider unavailable (503)');
      const messageId = `msg_${randomUUID()}`;
      sent.push({ ...message, messageId, sentAt: new Date() });
      return { messageId };
    },
  };
}
