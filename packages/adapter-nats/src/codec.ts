import {
  type AdapterCapabilities,
  attemptOf,
  checkOutgoing,
  type IncomingRecord,
  MessageTooLargeError,
  type OutgoingRecord,
  PublishError,
  type RecordHeaders,
  type Redactor,
} from '@tidings/core/adapter';
import { type MsgHdrs, headers as natsHeaders } from 'nats';

// Records to and from NATS messages, in both modes: header names and values percent-encoded as
// the CloudEvents NATS binding asks, the key in a header of its own, the checks of what the
// server takes, and the attempt by the kit's rule.

/**
 * The header that carries a record's key, percent-encoded like every value. NATS has no key of its
 * own; the key also picks the partition token of the subject.
 *
 * @example
 * ```ts
 * // Reading a Tidings record with plain nats.js:
 * const key = msg.headers?.has(KEY_HEADER) ? decodeHeaderValue(msg.headers.get(KEY_HEADER)) : undefined;
 * ```
 */
export const KEY_HEADER = 'tidings-key';

/** Header that JetStream reads to drop a re-published message within the stream's window. */
export const MSG_ID_HEADER = 'Nats-Msg-Id';

// Characters the CloudEvents NATS binding (3.1.3.2) leaves as they are: printable ASCII but for
// space, double quote and percent. Everything else is percent-encoded.
const NEEDS_ENCODING = /[^\x21\x23\x24\x26-\x7e]/;
// Header names also may not hold a colon (it ends the name on the wire).
const NAME_NEEDS_ENCODING = /[^\x21\x23\x24\x26-\x39\x3b-\x7e]/;
const HEX = '0123456789ABCDEF';
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function percentEncode(text: string, unsafe: RegExp): string {
  if (!unsafe.test(text)) return text;
  let out = '';
  for (const char of text) {
    if (char.length === 1 && !unsafe.test(char)) {
      out += char;
      continue;
    }
    for (const byte of utf8.encode(char)) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/**
 * Encodes a header value as the CloudEvents NATS binding asks for `ce-` attributes: space, `"`,
 * `%` and every character outside printable ASCII become `%XX` escapes of their UTF-8 bytes. The
 * adapter encodes every header this way, so that any string (unicode, empty, with leading spaces
 * or line breaks) survives NATS headers, which trim values and refuse line breaks.
 *
 * @example
 * ```ts
 * encodeHeaderValue('Euro € 😀'); // 'Euro%20%E2%82%AC%20%F0%9F%98%80'
 * ```
 */
export function encodeHeaderValue(value: string): string {
  return percentEncode(value, NEEDS_ENCODING);
}

/** Encodes a header name: like a value, and a colon too; plain ASCII names stay as they are. */
export function encodeHeaderName(name: string): string {
  return percentEncode(name, NAME_NEEDS_ENCODING);
}

/**
 * Decodes a header value written by {@link encodeHeaderValue}, or by another CloudEvents NATS
 * producer: a double-quoted value is unquoted first (older producers quoted), then one round of
 * percent-decoding is applied. A value that is not valid percent-encoded UTF-8 is returned as it
 * came, so a foreign message never makes the consumer fail.
 *
 * @example
 * ```ts
 * decodeHeaderValue('Euro%20%E2%82%AC'); // 'Euro €'
 * decodeHeaderValue('100%');              // '100%' (not an escape: kept)
 * ```
 */
export function decodeHeaderValue(raw: string): string {
  let value = raw;
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x25) {
      const byte = Number.parseInt(value.slice(i + 1, i + 3), 16);
      if (!/^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3)) || Number.isNaN(byte)) return raw;
      bytes.push(byte);
      i += 2;
    } else if (code < 0x80) {
      bytes.push(code);
    } else {
      // A producer that sent raw UTF-8 beside escapes: keep its characters.
      const char = String.fromCodePoint(value.codePointAt(i)!);
      bytes.push(...utf8.encode(char));
      i += char.length - 1;
    }
  }
  try {
    return strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    return raw;
  }
}

/** Whether a header is NATS's own (`Nats-Msg-Id`, `Nats-Expected-*`...), matched case-insensitively. */
export function isNatsHeader(name: string): boolean {
  return name.length >= 5 && name.slice(0, 5).toLowerCase() === 'nats-';
}

/** NATS headers built for one record, with their size on the wire. */
export interface EncodedHeaders {
  readonly headers: MsgHdrs;
  /** Bytes the headers take in the message, counted against the server's payload limit. */
  readonly byteLength: number;
}

/** `NATS/1.0\r\n` before the headers and `\r\n` after them. */
export const HEADER_FRAME_BYTES = 12;

/** Bytes a header takes in the header block: `name: value\r\n` (names and values as sent). */
export function headerLineBytes(name: string, value: string): number {
  return Buffer.byteLength(name) + Buffer.byteLength(value) + 4;
}

/**
 * Builds the NATS headers of a record: its own headers, encoded, the key, and the message id
 * unless the record sets `Nats-Msg-Id` itself. Headers named `Nats-*` are passed through
 * unencoded, since the server reads them (`Nats-Expected-Stream`...). Only own properties count:
 * a header named `__proto__` or `constructor` is a header like any other. Values must be strings
 * (the callers check it first, with an error that names the header).
 */
export function toNatsHeaders(
  headers: RecordHeaders,
  key: string | undefined,
  msgId?: string,
): EncodedHeaders {
  const out = natsHeaders();
  let byteLength = HEADER_FRAME_BYTES;
  const add = (name: string, value: string): void => {
    out.append(name, value);
    byteLength += headerLineBytes(name, value);
  };
  let ownMsgId = false;
  for (const name of Object.keys(headers)) {
    const value = headers[name]!;
    if (isNatsHeader(name)) {
      add(name, value);
      if (name === MSG_ID_HEADER) ownMsgId = true;
    } else {
      add(encodeHeaderName(name), encodeHeaderValue(value));
    }
  }
  if (key !== undefined) add(KEY_HEADER, encodeHeaderValue(key));
  if (msgId !== undefined && !ownMsgId) add(MSG_ID_HEADER, msgId);
  return { headers: out, byteLength };
}

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

/** A record's headers and key, read back from NATS headers. */
export interface DecodedHeaders {
  readonly headers: RecordHeaders;
  readonly key: string | undefined;
}

const NO_HEADERS: DecodedHeaders = Object.freeze({
  headers: Object.freeze(Object.create(null) as Record<string, string>),
  key: undefined,
});

/**
 * Reads a record's headers and key from a NATS message: decodes names and values, takes the key
 * out of {@link KEY_HEADER}, and leaves out NATS's own `Nats-*` headers. Of a header repeated on
 * the wire (which Tidings never writes), the first value is kept. The headers come back in an
 * object without a prototype, so that any name (`__proto__`, `constructor`, `toString`) is kept
 * as a header and none reaches `Object.prototype`.
 *
 * The raw header block, where nats.js keeps it (`rawBlock`), is read by {@link parseHeaderBlock}
 * and nats.js's own parse is never asked for: that one checks each name and scans the names before
 * it, and took more time than anything else the adapter does per delivery. For the blocks nats.js
 * accepts both read the same names and values; the tolerant parser also reads the blocks nats.js
 * refuses (a name with a space or a non-ASCII character, which other clients may write), so that
 * such a record still reaches the core, which can dead-letter it, rather than wedging its
 * consumer. Where the raw block is not found (a nats.js that keeps it elsewhere), nats.js parses.
 */
export function fromNatsHeaders(
  msg: { readonly headers?: MsgHdrs | undefined },
  rawBlock: () => Uint8Array | undefined = () => rawHeaderBlock(msg),
): DecodedHeaders {
  let entries: Iterable<[string, string[]]>;
  const raw = rawBlock();
  if (raw !== undefined) entries = parseHeaderBlock(raw);
  else {
    try {
      const parsed = msg.headers;
      if (parsed === undefined) return NO_HEADERS;
      entries = parsed;
    } catch {
      return NO_HEADERS;
    }
  }
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let key: string | undefined;
  for (const [rawName, values] of entries) {
    const first = values[0];
    if (first === undefined || isNatsHeader(rawName)) continue;
    if (rawName === KEY_HEADER) {
      key ??= decodeHeaderValue(first);
      continue;
    }
    const name = rawName.includes('%') ? decodeHeaderValue(rawName) : rawName;
    if (!Object.hasOwn(headers, name)) headers[name] = decodeHeaderValue(first);
  }
  return { headers, key };
}

/**
 * The record the core sees, from a NATS message (delivered, or read from a stream): its headers
 * and key decoded, its attempt by the kit's rule from the `tidings-attempt` header and the
 * deliveries of this copy (a retry is a redelivery of the same copy, so the header counts only for
 * a record something re-published).
 */
export function toIncoming(
  message: { readonly headers?: MsgHdrs | undefined },
  body: Uint8Array,
  where: { readonly topic: string; readonly position: string; readonly deliveries: number },
  rawBlock?: () => Uint8Array | undefined,
): IncomingRecord {
  const { headers, key } = fromNatsHeaders(message, rawBlock);
  return {
    topic: where.topic,
    key,
    headers,
    body,
    attempt: attemptOf(headers, where.deliveries),
    position: where.position,
  };
}

/**
 * @internal The raw header block of a delivered message, which {@link fromNatsHeaders} reads.
 * nats.js keeps it in fields of its message class that are not part of its API; if a version names
 * them otherwise, nats.js parses the headers again (and a block it refuses is read as no headers:
 * the core then dead-letters the record as malformed, never loses it). A test on the real server
 * (`test/core.test.ts`) says so when the fields are gone.
 */
export function rawHeaderBlock(msg: unknown): Uint8Array | undefined {
  const internals = msg as { _rdata?: unknown; _msg?: { hdr?: unknown } };
  const hdr = internals._msg?.hdr;
  const data = internals._rdata;
  if (typeof hdr !== 'number' || hdr <= 0 || !(data instanceof Uint8Array)) return undefined;
  return data.subarray(0, hdr);
}

const lenientUtf8 = new TextDecoder('utf-8');

/**
 * Reads `name: value` lines after the `NATS/1.0` status line, trimming values as NATS does; the
 * values of a repeated name are gathered under its first appearance, as nats.js does. A line
 * without a name or without a colon is left out.
 */
export function parseHeaderBlock(raw: Uint8Array): [string, string[]][] {
  const text = lenientUtf8.decode(raw);
  const out = new Map<string, string[]>();
  // Line by line without splitting the block into an array first; the status line is skipped.
  let start = text.indexOf('\r\n');
  while (start !== -1) {
    start += 2;
    let end = text.indexOf('\r\n', start);
    if (end === -1) end = text.length;
    const colon = text.indexOf(':', start);
    if (colon > start && colon < end) {
      const name = text.slice(start, colon);
      const value = text.slice(colon + 1, end).trim();
      const values = out.get(name);
      if (values === undefined) out.set(name, [value]);
      else values.push(value);
    }
    start = end === text.length ? -1 : end;
  }
  return [...out];
}
