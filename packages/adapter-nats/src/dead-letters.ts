import {
  type DeadLetterSettlement,
  fitDeadLetter,
  type IncomingRecord,
  MessageTooLargeError,
  PublishError,
  type Redactor,
  settlementHeaders,
  topicProblem,
} from '@tidings/core/adapter';
import {
  encodeHeaders,
  encodeHeaderValue,
  HEADER_FRAME_BYTES,
  headerLineBytes,
  isNatsHeader,
  KEY_HEADER,
  MSG_ID_HEADER,
  type OutgoingMessage,
} from './codec';
import { NATS_TOPIC_RULE } from './subjects';

/**
 * The largest header block JetStream stores, framing included: a stream refuses a message with
 * more (`header size exceeds maximum allowed of 64k`, JetStream error 10097), whatever its
 * `max_payload`. Core NATS has no such limit, but a stream that captures a core subject has.
 */
export const JETSTREAM_MAX_HEADER_BYTES = 65_535;

/** The limits a dead letter must fit in, as the server told them. */
export interface NatsLimits {
  /** Headers and body together: the server's `max_payload`, or the stream's `max_msg_size` if lower. */
  readonly maxPayloadBytes: number;
  /** The header block: {@link JETSTREAM_MAX_HEADER_BYTES}. */
  readonly maxHeaderBytes: number;
  /** Header bytes the client adds on its own (`Nats-Expected-Stream` on a JetStream publish). */
  readonly addedHeaderBytes: number;
}

/** What a dead letter had cut to fit the server; empty for the full copy. */
export type Reduced = readonly ('body' | 'headers')[];

/** A dead letter ready for the wire, and what had to be cut for it to fit. */
export interface DeadLetterMessage extends OutgoingMessage {
  readonly reduced: Reduced;
}

/** How a dead letter is addressed and sized. */
export interface DeadLetterShape {
  readonly limits: NatsLimits;
  readonly subjectOf: (topic: string, key: string | undefined) => string;
  /** The `Nats-Msg-Id` that makes a repeat of this dead letter a duplicate. */
  readonly msgId?: string;
  /** Cut as much as is ever cut (see `fitDeadLetter`): after the server refused a copy for its size. */
  readonly minimal: boolean;
  readonly redactor: Redactor;
}

/** Rounds of fitting: the full copy, a copy fitted to what percent-encoding made of it, the minimal one. */
const MAX_ROUNDS = 3;

/**
 * Makes the dead letter of `record`: its key and body, its headers with the failure metadata over
 * them, fitted by `fitDeadLetter` to the server's limits. The fitter measures header values as
 * UTF-8; on the wire they are percent-encoded (up to three bytes per byte) beside the key, the
 * message id and the client's own headers, so the encoded letter is measured again and, when it is
 * still over, fitted again that much tighter, then minimally.
 *
 * Throws a `PublishError` for a dead-letter topic the topic rule refuses, and a
 * `MessageTooLargeError` when even the minimal copy does not fit (a key of tens of kilobytes: the
 * key is never cut): errors that sending again cannot mend.
 */
export function deadLetterMessage(
  record: IncomingRecord,
  settlement: DeadLetterSettlement,
  shape: DeadLetterShape,
): DeadLetterMessage {
  const { topic } = settlement;
  const problem = topicProblem(NATS_TOPIC_RULE, topic);
  if (problem !== undefined) throw new PublishError(`cannot dead-letter: ${problem}`, { topic });
  // The record's headers, then the failure metadata over them; NATS's own headers are the server's.
  const merged = settlementHeaders(record.headers, settlement.headers);
  for (const name of Object.keys(merged)) if (isNatsHeader(name)) delete merged[name];
  const { limits } = shape;
  const fixed =
    HEADER_FRAME_BYTES +
    limits.addedHeaderBytes +
    (record.key === undefined ? 0 : headerLineBytes(KEY_HEADER, encodeHeaderValue(record.key))) +
    (shape.msgId === undefined ? 0 : headerLineBytes(MSG_ID_HEADER, shape.msgId));
  let headerBudget = limits.maxHeaderBytes - fixed;
  let payloadBudget = limits.maxPayloadBytes - fixed;
  let minimal = shape.minimal;
  for (let round = 1; ; round++) {
    const fitted = fitDeadLetter(merged, record.body, {
      maxBytes: Math.max(0, payloadBudget),
      maxHeaderBytes: Math.max(0, headerBudget),
      // `: ` and `\r\n` around each header.
      headerOverheadBytes: 4,
      minimal,
    });
    const letter = { topic, key: record.key, headers: fitted.headers, body: fitted.body };
    const encoded = encodeHeaders(letter, shape.msgId, shape.redactor);
    const headerBytes = encoded.byteLength + limits.addedHeaderBytes;
    const headerOver = headerBytes - limits.maxHeaderBytes;
    const payloadOver = headerBytes + fitted.body.byteLength - limits.maxPayloadBytes;
    if (headerOver <= 0 && payloadOver <= 0) {
      return {
        topic,
        subject: shape.subjectOf(topic, record.key),
        headers: encoded.headers,
        body: fitted.body,
        reduced: fitted.reduced,
      };
    }
    if (minimal) {
      throw headerOver > 0
        ? new MessageTooLargeError(headerBytes, limits.maxHeaderBytes, {
            cause: new Error(`even the minimal dead letter's headers are over the server's header limit`),
          })
        : new MessageTooLargeError(headerBytes + fitted.body.byteLength, limits.maxPayloadBytes);
    }
    headerBudget -= Math.max(0, headerOver);
    payloadBudget -= Math.max(0, payloadOver);
    if (round + 1 >= MAX_ROUNDS) minimal = true;
  }
}
