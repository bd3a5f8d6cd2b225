import { MessageTooLargeError, type OutgoingRecord, PublishError } from '@tidings/core/adapter';
import type { MsgHdrs } from 'nats';
import { KEY_HEADER, toNatsHeaders } from './headers';
import { subjectProblem } from './subjects';

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
  /** The server's `max_payload`: headers and body together. */
  readonly maxPayloadBytes: number;
  /** The subject of a record. */
  readonly subjectOf: (record: OutgoingRecord) => string;
  /** The `Nats-Msg-Id` of a record, if it should have one. */
  readonly msgIdOf?: (record: OutgoingRecord) => string | undefined;
}

/**
 * Checks every record and builds its message before anything is sent, so that a bad record in a
 * batch fails the call without publishing the others: a topic that is not a subject, a body over
 * the limit, headers that push the message over the server's payload limit, or the reserved
 * `tidings-key` header.
 */
export function prepareMessages(records: readonly OutgoingRecord[], shape: MessageShape): OutgoingMessage[] {
  const messages: OutgoingMessage[] = [];
  for (const record of records) {
    const { topic, body } = record;
    const problem = subjectProblem(topic);
    if (problem !== undefined) {
      throw new PublishError(`topic "${String(topic)}" cannot be a NATS subject: it ${problem}`, { topic });
    }
    if (body.byteLength > shape.maxBodyBytes)
      throw new MessageTooLargeError(body.byteLength, shape.maxBodyBytes);
    if (Object.hasOwn(record.headers, KEY_HEADER)) {
      throw new PublishError(
        `header "${KEY_HEADER}" is reserved by the NATS adapter for the record key; set the key instead`,
        { topic },
      );
    }
    let encoded: ReturnType<typeof toNatsHeaders>;
    try {
      encoded = toNatsHeaders(record.headers, record.key, shape.msgIdOf?.(record));
    } catch (error) {
      throw new PublishError(
        `headers of a record for topic "${topic}" are not valid NATS headers: ${String(error)}`,
        {
          topic,
          cause: error,
        },
      );
    }
    const size = encoded.byteLength + body.byteLength;
    if (size > shape.maxPayloadBytes) throw new MessageTooLargeError(size, shape.maxPayloadBytes);
    messages.push({ topic, subject: shape.subjectOf(record), headers: encoded.headers, body });
  }
  return messages;
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
