import {
  type AdapterCapabilities,
  checkOutgoing,
  MessageTooLargeError,
  type OutgoingRecord,
  PublishError,
  type Redactor,
} from '@tidings/core/adapter';
import type { MsgHdrs } from 'nats';
import { KEY_HEADER, toNatsHeaders } from './codec';

/** A record ready for the wire. */
export interface OutgoingMessage {
  readonly topic: string;
  readonly subject: string;
  readonly headers: MsgHdrs;
  readonly body: Uint8Array;
}

/** How an adapter turns records into messages. */
export interface MessageShape {
  /** The adapter's capabilities: its topic rule and largest body (`maxMessageBytes`). */
  readonly capabilities: AdapterCapabilities;
  /** Largest message, headers and body together: the server's `max_payload`, the stream's `max_msg_size`. */
  readonly maxPayloadBytes: number;
  /** Largest header block (JetStream stores none over 64 KiB); unlimited when left out. */
  readonly maxHeaderBytes?: number;
  /** Header bytes the client adds to each message on its own (`Nats-Expected-Stream`). */
  readonly addedHeaderBytes?: number;
  /** The subject of a record. */
  readonly subjectOf: (record: OutgoingRecord) => string;
  /** The `Nats-Msg-Id` of a record, if it should have one. */
  readonly msgIdOf?: (record: OutgoingRecord) => string | undefined;
  /** Hides secrets in the errors of the client that end up in a message. */
  readonly redactor: Redactor;
}

/**
 * Checks every record and builds its message before anything is sent, so that a bad record in a
 * batch fails the call without publishing the others: what every adapter refuses
 * (`checkOutgoing`: the topic rule, keys and header values that are not strings, a body over the
 * limit), then what only NATS does: a header with an empty name, the reserved `tidings-key` header,
 * headers that push the message over the server's limits.
 */
export function prepareMessages(records: readonly OutgoingRecord[], shape: MessageShape): OutgoingMessage[] {
  checkShape(records);
  checkOutgoing(records, shape.capabilities);
  const messages: OutgoingMessage[] = [];
  for (const record of records) {
    const { topic, body } = record;
    if (Object.hasOwn(record.headers, KEY_HEADER)) {
      throw new PublishError(
        `header "${KEY_HEADER}" is reserved by the NATS adapter for the record key; set the key instead`,
        { topic },
      );
    }
    const encoded = encodeHeaders(record, shape.msgIdOf?.(record), shape.redactor);
    const headerBytes = encoded.byteLength + (shape.addedHeaderBytes ?? 0);
    if (shape.maxHeaderBytes !== undefined && headerBytes > shape.maxHeaderBytes) {
      throw new MessageTooLargeError(headerBytes, shape.maxHeaderBytes, {
        cause: new Error(`the headers of a record for topic "${topic}" are over the server's header limit`),
      });
    }
    const size = headerBytes + body.byteLength;
    if (size > shape.maxPayloadBytes) throw new MessageTooLargeError(size, shape.maxPayloadBytes);
    messages.push({ topic, subject: shape.subjectOf(record), headers: encoded.headers, body });
  }
  return messages;
}

/**
 * What `checkOutgoing` takes for granted of a batch handed to `publish` directly (the bus hands
 * over only well-formed ones): an array of objects with an object of headers, none with an empty
 * name. A `PublishError` here, rather than the `TypeError` a client would throw.
 */
function checkShape(records: unknown): void {
  if (!Array.isArray(records)) throw new PublishError('publish takes an array of records');
  for (const record of records as unknown[]) {
    if (typeof record !== 'object' || record === null) {
      throw new PublishError(`a record must be an object, got ${record === null ? 'null' : typeof record}`);
    }
    const { topic, headers } = record as { topic?: unknown; headers?: unknown };
    const where = typeof topic === 'string' ? { topic } : {};
    if (typeof headers !== 'object' || headers === null) {
      throw new PublishError(
        `the headers of a record must be an object, got ${headers === null ? 'null' : typeof headers}`,
        where,
      );
    }
    if (Object.hasOwn(headers, '')) throw new PublishError('a record has a header with an empty name', where);
  }
}

/** The record's NATS headers; a header nats.js refuses (a `Nats-*` value with a line break) is a `PublishError`. */
export function encodeHeaders(
  record: OutgoingRecord,
  msgId: string | undefined,
  redactor: Redactor,
): ReturnType<typeof toNatsHeaders> {
  try {
    return toNatsHeaders(record.headers, record.key, msgId);
  } catch (error) {
    throw new PublishError(
      `headers of a record for topic "${record.topic}" are not valid NATS headers: ${redactor.text(String(error))}`,
      { topic: record.topic, cause: redactor.error(error) },
    );
  }
}

/**
 * Waits for every publish of a batch, then rejects with the first failure: waiting for all keeps a
 * failed batch from leaving unobserved rejections behind, and tells the caller about the earliest
 * record that may be missing.
 */
export async function settleAll(
  attempts: readonly Promise<unknown>[],
  failure: (error: unknown, index: number) => Error,
): Promise<void> {
  const results = await Promise.allSettled(attempts);
  const index = results.findIndex((result) => result.status === 'rejected');
  if (index !== -1) throw failure((results[index] as PromiseRejectedResult).reason, index);
}
