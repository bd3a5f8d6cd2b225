import { createHash } from 'node:crypto';
import { utf8Bytes, utf8Prefix } from '../../internal/text';
import { DEAD_LETTER_HEADERS, type RecordHeaders } from '../contract';

/** The limits a dead letter must fit in, as the adapter knows its broker's. */
export interface DeadLetterLimits {
  /** Largest record: every header name and value plus the body, in bytes. */
  readonly maxBytes: number;
  /**
   * Largest body, in bytes, where the broker limits the body apart from the headers (a Redis
   * entry, an AMQP body). Default: no limit beyond `maxBytes`.
   */
  readonly maxBodyBytes?: number;
  /** Largest sum of every header name and value, in bytes (a frame, a header block). Default: `maxBytes`. */
  readonly maxHeaderBytes?: number;
  /** Largest single header value, in bytes. Default: no limit beyond `maxHeaderBytes`. */
  readonly maxHeaderValueBytes?: number;
  /** Bytes of the record's key, where the broker counts it against `maxBytes` (Kafka). Default 0. */
  readonly keyBytes?: number;
  /** Bytes the broker spends per header on framing, counted against the limits. Default 8. */
  readonly headerOverheadBytes?: number;
  /**
   * Cut as much as is ever cut: the body dropped, every header value over 256 bytes cut. For an
   * adapter whose broker refused a dead letter that fitted the limits it believed in (a topic
   * configured below the broker default): the last copy it tries.
   */
  readonly minimal?: boolean;
}

/** A dead letter ready for the broker. */
export interface FittedDeadLetter {
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
  /** What was cut; empty when the full copy fits. */
  readonly reduced: readonly ('body' | 'headers')[];
}

/** Header values of a reduced dead letter are cut to this many bytes. */
const CUT_VALUE_BYTES = 256;
/** Header names longer than this are dropped with their value (their digest is kept). */
const MAX_NAME_BYTES = 255;
const MAX_LISTED_CUTS = 16;
const EMPTY = new Uint8Array(0);

/**
 * Makes a dead letter that the broker will take: the full copy when it fits `limits`, else a
 * reduced one. Reducing cuts header values over the limit to 256 bytes (a header name over 255
 * bytes goes whole), then drops the largest of the record's own headers while the header block is
 * still over its limit, then, if the record is still too large, drops the body; what was cut is
 * described in the dead letter's own headers: `tidings-dlq-reduced`, the original body's size and
 * SHA-256 (`tidings-dlq-original-body-bytes`, `-sha256`), and per cut header its name, size and
 * SHA-256 (`tidings-dlq-cut-headers`), and how many headers were dropped
 * (`tidings-dlq-dropped-headers`). The failure metadata (`tidings-dlq-*`) is never cut: the
 * core keeps it small. A reduced dead letter cannot be redriven as it was; it tells an operator
 * what failed and how to find the original.
 *
 * @example
 * ```ts
 * const letter = fitDeadLetter({ ...record.headers, ...settlement.headers }, record.body, { maxBytes: 1_048_576 });
 * await producer.send(settlement.topic, letter.headers, letter.body);
 * observer?.deadLettered(record, { topic: settlement.topic, reason: settlement.reason, reduced: letter.reduced });
 * ```
 */
export function fitDeadLetter(
  headers: RecordHeaders,
  body: Uint8Array,
  limits: DeadLetterLimits,
): FittedDeadLetter {
  const overhead = limits.headerOverheadBytes ?? 8;
  const maxBytes = limits.maxBytes - (limits.keyBytes ?? 0);
  const maxHeaderBytes = Math.min(limits.maxHeaderBytes ?? maxBytes, maxBytes);
  const valueLimit = limits.maxHeaderValueBytes ?? Number.POSITIVE_INFINITY;
  const minimal = limits.minimal === true;

  const size = headerBytes(headers, overhead);
  const maxBodyBytes = limits.maxBodyBytes ?? Number.POSITIVE_INFINITY;
  const fits =
    !minimal &&
    body.byteLength <= maxBodyBytes &&
    size + body.byteLength <= maxBytes &&
    size <= maxHeaderBytes &&
    everyValueWithin(headers, valueLimit);
  if (fits) return { headers: { ...headers }, body, reduced: [] };

  const reduced: ('body' | 'headers')[] = [];
  let out: Record<string, string> = { ...headers };
  const cuts: { name: string; bytes: number; sha256: string }[] = [];

  // Headers first: values over the broker's limit, then, if the headers alone are still too many
  // bytes (or this is the minimal copy), every value over the cut size.
  const cap =
    minimal || headerBytes(capValues(out, valueLimit, cuts), overhead) > maxHeaderBytes
      ? Math.min(valueLimit, CUT_VALUE_BYTES)
      : valueLimit;
  cuts.length = 0;
  out = capValues(out, cap, cuts);
  if (cuts.length > 0) {
    reduced.push('headers');
    out[DEAD_LETTER_HEADERS.cutHeaders] = JSON.stringify(cuts.slice(0, MAX_LISTED_CUTS));
  }

  // Still over the header budget (hundreds of small headers): drop the largest of the record's
  // own headers until it fits, counting them. The failure metadata stays.
  let dropped = 0;
  if (headerBytes(out, overhead) > maxHeaderBytes) {
    const budget = maxHeaderBytes - 64;
    const own = Object.keys(out)
      .filter((name) => !name.startsWith('tidings-dlq-'))
      .sort((a, b) => utf8Bytes(out[b]!) + utf8Bytes(b) - (utf8Bytes(out[a]!) + utf8Bytes(a)));
    let size = headerBytes(out, overhead);
    for (const name of own) {
      if (size <= budget) break;
      size -= utf8Bytes(name) + utf8Bytes(out[name]!) + overhead;
      delete out[name];
      dropped++;
    }
    out[DEAD_LETTER_HEADERS.droppedHeaders] = String(dropped);
    if (!reduced.includes('headers')) reduced.push('headers');
  }

  let outBody = body;
  const withBody = headerBytes(out, overhead) + body.byteLength;
  if (minimal || withBody > maxBytes || body.byteLength > maxBodyBytes) {
    if (body.byteLength > 0) {
      reduced.push('body');
      out[DEAD_LETTER_HEADERS.originalBodyBytes] = String(body.byteLength);
      out[DEAD_LETTER_HEADERS.originalBodySha256] = sha256(body);
    }
    outBody = EMPTY;
  }
  if (reduced.length > 0) out[DEAD_LETTER_HEADERS.reduced] = reduced.join(',');
  return { headers: out, body: outBody, reduced };
}

function headerBytes(headers: RecordHeaders, overhead: number): number {
  let total = 0;
  for (const name of Object.keys(headers)) total += utf8Bytes(name) + utf8Bytes(headers[name]!) + overhead;
  return total;
}

function everyValueWithin(headers: RecordHeaders, limit: number): boolean {
  if (limit === Number.POSITIVE_INFINITY) return true;
  for (const name of Object.keys(headers)) {
    if (utf8Bytes(headers[name]!) > limit || utf8Bytes(name) > MAX_NAME_BYTES) return false;
  }
  return true;
}

function capValues(
  headers: RecordHeaders,
  limit: number,
  cuts: { name: string; bytes: number; sha256: string }[],
): Record<string, string> {
  // No prototype: a header named `__proto__` is a header like any other.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(headers)) {
    const value = headers[name]!;
    const isMetadata = name.startsWith('tidings-dlq-');
    if (!isMetadata && utf8Bytes(name) > MAX_NAME_BYTES) {
      cuts.push({
        name: `${name.slice(0, 63)}…`,
        bytes: utf8Bytes(value),
        sha256: sha256(`${name}\n${value}`),
      });
      continue;
    }
    const bytes = utf8Bytes(value);
    if (!isMetadata && bytes > limit) {
      cuts.push({ name, bytes, sha256: sha256(value) });
      out[name] = `${utf8Prefix(value, Math.max(0, limit - 3))}…`;
    } else {
      out[name] = value;
    }
  }
  return out;
}

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
