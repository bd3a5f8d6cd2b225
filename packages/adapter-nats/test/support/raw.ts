import type { RawRecord } from '@tidings/conformance';
import { type NatsConnection, headers as natsHeaders } from 'nats';
import { encodeHeaderValue, KEY_HEADER, partitionOfKey } from '../../src/index';
import { coreSubject, partitionSubject } from '../../src/subjects';

/** Where a raw producer writes: the JetStream adapter's partitioned subjects, or core NATS's. */
export type RawTarget =
  | { readonly mode: 'jetstream'; readonly prefix: string; readonly partitions: number }
  | { readonly mode: 'core'; readonly prefix: string };

/**
 * Writes records with plain nats.js, as a producer in another language or another library would:
 * headers as they are (not percent-encoded), the key in `tidings-key` as the docs describe, to the
 * subject the adapter reads. JetStream records are published and their storage confirmed; core
 * records are flushed to the server.
 */
export async function injectRaw(
  nc: NatsConnection,
  target: RawTarget,
  topic: string,
  records: readonly RawRecord[],
): Promise<void> {
  const js = nc.jetstream();
  for (const record of records) {
    const headers = natsHeaders();
    for (const name of Object.keys(record.headers)) headers.append(name, record.headers[name]!);
    headers.set(KEY_HEADER, encodeHeaderValue(record.key));
    if (target.mode === 'jetstream') {
      const subject = partitionSubject(target.prefix, topic, partitionOfKey(record.key, target.partitions));
      await js.publish(subject, record.body, { headers });
    } else {
      nc.publish(coreSubject(target.prefix, topic), record.body, { headers });
    }
  }
  if (target.mode === 'core') await nc.flush();
}

const PERCENT_ESCAPE = /%[0-9a-fA-F]{2}/;

/**
 * What a raw nats.js producer can write as a header, for the conformance fuzzer: names of printable
 * ASCII without `:` (nats.js refuses others), not NATS's own `Nats-*` (the server acts on them) nor
 * the key header; values without line breaks, and without edge whitespace (NATS trims it).
 *
 * Nor a `%` followed by two hex digits, in a name or a value: under the CloudEvents NATS binding
 * that is an escape, which the adapter decodes (`%5e` reads as `^`), so a producer meaning a
 * literal one writes `%25`. The scenario compares what the adapter reads of the dead letter with
 * what the producer wrote, which for an escape are different strings by design (seed 552157793).
 *
 * Nor `tidings-attempt`: by the adapter contract a record that says it is its 8th attempt is one,
 * and the core dead-letters it as "delivered 8 times without being settled", a reason the
 * scenario does not accept (a bug of the scenario, reported: seed 890363668 with 3,000 records).
 */
export const RAW_HEADERS = {
  name: (name: string): boolean =>
    /^[\x21-\x39\x3b-\x7e]+$/.test(name) &&
    !PERCENT_ESCAPE.test(name) &&
    !/^nats-/i.test(name) &&
    name !== KEY_HEADER &&
    name !== 'tidings-attempt',
  value: (value: string): boolean =>
    !/[\r\n]/.test(value) && value === value.trim() && !PERCENT_ESCAPE.test(value),
};
