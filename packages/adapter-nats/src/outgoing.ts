import {
  MessageTooLargeError,
  type OutgoingRecord,
  PublishError,
  type Redactor,
  topicProblem,
} from '@tidings/core/adapter';
import type { MsgHdrs } from 'nats';
import { KEY_HEADER, toNatsHeaders } from './codec';
import { NATS_TOPIC_RULE } from './subjects';

/** A record ready for the wire. */
export interface OutgoingMessage {
  readonly topic: string;
  readonly subject: string;
  readonly headers: MsgHdrs;
  readonly body: Uint8Array;
}

/** How an adapter turns records into messages. */
export interface MessageShape {
  /** Largest body, in bytes (the adapter's `maxMessageBytes`). */
  readonly maxBodyBytes: number;
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
 * What is wrong with the shape of a record handed to `publish` directly (the bus hands over only
 * well-formed ones), as a `PublishError` naming the field, before the client can fail on it with
 * an untyped error (`k.trim is not a function` for a number as a header value).
 */
export function recordProblem(record: OutgoingRecord): PublishError | undefined {
  if (typeof record !== 'object' || record === null) {
    return new PublishError(`a record must be an object, got ${record === null ? 'null' : typeof record}`);
  }
  const problem = topicProblem(NATS_TOPIC_RULE, record.topic);
  if (problem !== undefined) {
    return new PublishError(problem, typeof record.topic === 'string' ? { topic: record.topic } : {});
  }
  const { topic } = record;
  if (record.key !== undefined && typeof record.key !== 'string') {
    return new PublishError(
      `the key of a record for topic "${topic}" must be a string, got ${typeof record.key}`,
      {
        topic,
      },
    );
  }
  if (!(record.body instanceof Uint8Array)) {
    return new PublishError(`the body of a record for topic "${topic}" must be a Uint8Array`, { topic });
  }
  const headers: unknown = record.headers;
  if (typeof headers !== 'object' || headers === null) {
    return new PublishError(`the headers of a record for topic "${topic}" must be an object`, { topic });
  }
  for (const name of Object.keys(headers)) {
    const value = (headers as Record<string, unknown>)[name];
    if (typeof value !== 'string') {
      return new PublishError(
        `header ${JSON.stringify(name.slice(0, 100))} of a record for topic "${topic}" must be a string, got ${value === null ? 'null' : typeof value}`,
        { topic },
      );
    }
    if (name === '') {
      return new PublishError(`a record for topic "${topic}" has a header with an empty name`, { topic });
    }
  }
  if (Object.hasOwn(headers, KEY_HEADER)) {
    return new PublishError(
      `header "${KEY_HEADER}" is reserved by the NATS adapter for the record key; set the key instead`,
      { topic },
    );
  }
  return undefined;
}

/**
 * Checks every record and builds its message before anything is sent, so that a bad record in a
 * batch fails the call without publishing the others: a malformed record, a topic the rule
 * refuses, a body over the limit, headers that push the message over the server's limits, or the
 * reserved `tidings-key` header.
 */
export function prepareMessages(records: readonly OutgoingRecord[], shape: MessageShape): OutgoingMessage[] {
  if (!Array.isArray(records)) throw new PublishError('publish takes an array of records');
  const messages: OutgoingMessage[] = [];
  for (const record of records) {
    const problem = recordProblem(record);
    if (problem !== undefined) throw problem;
    const { topic, body } = record;
    if (body.byteLength > shape.maxBodyBytes) {
      throw new MessageTooLargeError(body.byteLength, shape.maxBodyBytes);
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
