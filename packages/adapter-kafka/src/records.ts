import type { OutgoingRecord } from '@tidings/core/adapter';
import type { IHeaders, Message } from 'kafkajs';

const EMPTY = new Uint8Array(0);

/** @internal An outgoing record as kafkajs sends it. */
export function toKafkaMessage(record: OutgoingRecord): Message {
  const body = record.body;
  return {
    key: record.key ?? null,
    // kafkajs wants a Buffer; wrap the caller's bytes without copying them.
    value: Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    headers: record.headers,
  };
}

/**
 * @internal Kafka headers as Tidings headers. Kafka allows a name more than once; the last value
 * wins, as when the headers are read into a map by other clients.
 */
export function fromKafkaHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last === undefined) continue;
    out[name] = typeof last === 'string' ? last : last.toString('utf8');
  }
  return out;
}

/** @internal The key of a fetched record: `null` (no key) becomes undefined. */
export function fromKafkaKey(key: Buffer | null | undefined): string | undefined {
  return key === null || key === undefined ? undefined : key.toString('utf8');
}

/** @internal The body of a fetched record: a null value (a tombstone) becomes an empty body. */
export function fromKafkaValue(value: Buffer | null | undefined): Uint8Array {
  return value ?? EMPTY;
}

/** @internal Approximate size of a record on the wire, to keep each produced batch under the broker's limit. */
export function estimateSize(record: OutgoingRecord): number {
  let size = 64 + record.body.byteLength + (record.key === undefined ? 0 : Buffer.byteLength(record.key));
  for (const name in record.headers) {
    size += 8 + Buffer.byteLength(name) + Buffer.byteLength(record.headers[name]!);
  }
  return size;
}
