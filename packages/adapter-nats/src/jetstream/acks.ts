import type { Msg, NatsConnection } from 'nats';

/** Where a JetStream message sits, read from the subject its acks go to. */
export interface DeliveryInfo {
  /** Stream sequence: the record's position in the stream. */
  readonly streamSeq: number;
  /** How many times the consumer has delivered it, this time included. */
  readonly deliveryCount: number;
}

/**
 * Reads the delivery info from a JetStream ack subject, in either form the server uses:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` or, with domain and account
 * hash, `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>.<token>`.
 * Undefined when the subject is neither.
 *
 * @example
 * ```ts
 * parseAckSubject('$JS.ACK.TIDINGS.billing.2.1043.97.1719830400000000000.5');
 * // { streamSeq: 1043, deliveryCount: 2 }
 * ```
 */
export function parseAckSubject(reply: string | undefined): DeliveryInfo | undefined {
  if (reply === undefined || !reply.startsWith('$JS.ACK.')) return undefined;
  const tokens = reply.split('.');
  const offset = tokens.length === 9 ? 4 : tokens.length >= 11 ? 6 : -1;
  if (offset === -1) return undefined;
  const deliveryCount = Number(tokens[offset]);
  const streamSeq = Number(tokens[offset + 1]);
  if (!Number.isSafeInteger(deliveryCount) || !Number.isSafeInteger(streamSeq)) return undefined;
  return { streamSeq, deliveryCount };
}

const encoder = new TextEncoder();
const ACK = encoder.encode('+ACK');
const NAK = encoder.encode('-NAK');
const WORKING = encoder.encode('+WPI');
const TERM = encoder.encode('+TERM');

/**
 * The acknowledgement protocol of JetStream, spoken on the message's reply subject. Acks are
 * plain publishes: a lost one means a redelivery (at-least-once), never a loss.
 */
export const acks = {
  ack(nc: NatsConnection, msg: Msg): void {
    send(nc, msg, ACK);
  },
  /** Redeliver after `delayMs` (0: as soon as possible). Counts as a delivery. */
  nak(nc: NatsConnection, msg: Msg, delayMs: number): void {
    send(nc, msg, delayMs > 0 ? encoder.encode(`-NAK {"delay":${Math.round(delayMs) * 1_000_000}}`) : NAK);
  },
  /** Reset the ack timer: the message is still being worked on. */
  working(nc: NatsConnection, msg: Msg): void {
    send(nc, msg, WORKING);
  },
  /** Never deliver it to this consumer again. */
  term(nc: NatsConnection, msg: Msg): void {
    send(nc, msg, TERM);
  },
};

function send(nc: NatsConnection, msg: Msg, payload: Uint8Array): void {
  if (msg.reply === undefined || msg.reply === '' || nc.isClosed()) return;
  try {
    nc.publish(msg.reply, payload);
  } catch {
    // The connection is closing: the server redelivers what was not settled.
  }
}
