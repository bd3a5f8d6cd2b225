import { attemptOf, type IncomingRecord, type OutgoingRecord, RepeatedText } from '@tidings/core/adapter';
import type { WireMessage } from './client/producer';
import type { FetchedHeaders } from './client/reader';

/**
 * Records to and from kafkajs messages: key, headers and body each way, the attempt and position of
 * a fetched record, and the sizes a record takes in a record batch.
 *
 * @module
 */

const EMPTY = new Uint8Array(0);

/** @internal An outgoing record as the producers send it. */
export function toKafkaMessage(record: OutgoingRecord): WireMessage {
  const body = record.body;
  return {
    key: record.key ?? null,
    // The clients want a Buffer; wrap the caller's bytes without copying them.
    value: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    headers: record.headers,
  };
}

/**
 * @internal Kafka headers as Tidings headers. Kafka allows a name more than once; the last value
 * wins, as when the headers are read into a map by other clients. A header without a value (null)
 * reads as empty.
 *
 * The result has no prototype and only own properties are read: kafkajs builds its header object
 * with the names as keys, so a header named `__proto__`, `constructor` or `toString` must stay a
 * header, never reach a prototype, and never be mistaken for one (kafkajs itself reads
 * `headers.constructor` of a fresh object as the earlier value of a repeated `constructor` header
 * and puts `Object` before the real value).
 */
export function fromKafkaHeaders(headers: FetchedHeaders | undefined): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  if (headers === undefined || headers === null) return out;
  for (const name of Object.keys(headers)) {
    const value: unknown = headers[name];
    const text = headerText(Array.isArray(value) ? value[value.length - 1] : value);
    if (text !== undefined) out[name] = text;
  }
  return out;
}

// A topic's records carry the same header names in the same order, and many of the same values
// (type, source, spec version, content type): decoded once while they repeat at their position.
const headerNames = new RepeatedText();
const headerValues = new RepeatedText();

/**
 * @internal Header pairs as a Kafka record carries them on the wire (as `@platformatic/kafka` decodes
 * them) read as {@link fromKafkaHeaders} reads a header object: the last value of a repeated name
 * wins, a null value reads as empty, a pair without a name is left out, and the result has no
 * prototype. One pass, no intermediate object, and names and values that repeat from record to
 * record are not decoded again.
 */
export function fromKafkaHeaderPairs(
  pairs: readonly (readonly [Buffer | null, Buffer | null])[],
): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (let i = 0; i < pairs.length; i++) {
    const [name, value] = pairs[i]!;
    if (name === null) continue;
    out[headerNames.text(name, i)] = value === null ? '' : headerValues.text(value, i);
  }
  return out;
}

function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString();
  return value === null ? '' : undefined;
}

/** @internal The key of a fetched record: `null` (no key) becomes undefined. */
export function fromKafkaKey(key: Buffer | null | undefined): string | undefined {
  return key === null || key === undefined ? undefined : key.toString();
}

/** @internal The body of a fetched record: a null value (a tombstone) becomes an empty body. */
export function fromKafkaValue(value: Buffer | null | undefined): Uint8Array {
  return value ?? EMPTY;
}

/** @internal Where a record is, as its `position` says it: `topic/partition@offset`. */
export function positionOf(topic: string, partition: number | string, offset: number | string): string {
  return `${topic}/${partition}@${offset}`;
}

/**
 * @internal A fetched message as the record the core handles. Kafka counts no deliveries, so the
 * attempt is the kit's one rule over the headers alone: the `tidings-attempt` a retry copy carries,
 * else 1.
 *
 * @param headers the message's headers as {@link fromKafkaHeaders} read them, with what the
 *   subscription knows besides (the retry state of an in-place retry, committed with the offset).
 */
export function fromKafkaMessage(
  message: { readonly key?: Buffer | null; readonly value: Buffer | null },
  headers: Record<string, string>,
  topic: string,
  position: string,
): IncomingRecord {
  return {
    topic,
    key: fromKafkaKey(message.key),
    headers,
    body: fromKafkaValue(message.value),
    attempt: attemptOf(headers),
    position,
  };
}

/** @internal Approximate size of a record on the wire, to keep each produced batch under the broker's limit. */
export function estimateSize(record: OutgoingRecord): number {
  let size = 64 + record.body.byteLength + (record.key == null ? 0 : Buffer.byteLength(record.key));
  for (const name of Object.keys(record.headers)) {
    size += 8 + Buffer.byteLength(name) + Buffer.byteLength(record.headers[name]!);
  }
  return size;
}

/**
 * Bytes a record batch holding one record spends beyond the record's key, header names and values
 * and body: the batch header (61 bytes) and, at their largest, the record's length, attributes,
 * timestamp and offset deltas, key and value lengths and header count (varints), rounded up.
 */
const ONE_RECORD_BATCH_OVERHEAD = 128;

/**
 * Bytes a header costs beyond its name and value: two varint lengths of up to 5 bytes each.
 */
export const HEADER_OVERHEAD_BYTES = 10;

/**
 * @internal The most bytes of key, headers and body (each header counted with
 * {@link HEADER_OVERHEAD_BYTES}) that a record can carry when the broker takes record batches of at
 * most `maxBatchBytes` (`max.message.bytes` of the topic).
 */
export function recordRoom(maxBatchBytes: number): number {
  return Math.max(0, maxBatchBytes - ONE_RECORD_BATCH_OVERHEAD);
}
