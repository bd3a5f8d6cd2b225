import type { RecordHeaders } from '@tidings/core/adapter';
import { type MsgHdrs, headers as natsHeaders } from 'nats';

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
 * A header block that nats.js cannot parse (a name with a space or a non-ASCII character, which
 * other clients may write) is read by a tolerant parser of the raw bytes instead, so that such a
 * record still reaches the core, which can dead-letter it, rather than wedging its consumer.
 */
export function fromNatsHeaders(
  msg: { readonly headers?: MsgHdrs | undefined },
  rawBlock: () => Uint8Array | undefined = () => rawHeaderBlock(msg),
): DecodedHeaders {
  let entries: Iterable<[string, string[]]>;
  try {
    const parsed = msg.headers;
    if (parsed === undefined) return NO_HEADERS;
    entries = parsed;
  } catch {
    const raw = rawBlock();
    if (raw === undefined) return NO_HEADERS;
    entries = parseHeaderBlock(raw);
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
 * The raw header block of a message nats.js could not parse. nats.js keeps it in fields of its
 * message class that are not part of its API; if a version names them otherwise, the record is
 * read without headers (the core then dead-letters it as malformed), never lost.
 */
function rawHeaderBlock(msg: unknown): Uint8Array | undefined {
  const internals = msg as { _rdata?: unknown; _msg?: { hdr?: unknown } };
  const hdr = internals._msg?.hdr;
  const data = internals._rdata;
  if (typeof hdr !== 'number' || hdr <= 0 || !(data instanceof Uint8Array)) return undefined;
  return data.subarray(0, hdr);
}

const lenientUtf8 = new TextDecoder('utf-8');

/** Reads `name: value` lines after the `NATS/1.0` status line, trimming values as NATS does. */
export function parseHeaderBlock(raw: Uint8Array): [string, string[]][] {
  const lines = lenientUtf8.decode(raw).split('\r\n');
  const out = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    const values = out.get(name) ?? [];
    values.push(line.slice(colon + 1).trim());
    out.set(name, values);
  }
  return [...out];
}
