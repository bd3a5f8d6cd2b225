import { type RecordHeaders, RepeatedText } from '@tidings/core/adapter';

/**
 * How a record is laid out as the fields of a stream entry. Headers are fields of their own name,
 * so that other stream readers see `ce_type`, `content-type` and the rest as they are; the body
 * and the key take reserved names that start with `$`, and a header whose name starts with `$`
 * gets one more `$` in front, so no header can be mistaken for them.
 */
export const FIELDS = {
  body: '$body',
  key: '$key',
} as const;

/** The record content that lives in a stream entry. */
export interface EntryContent {
  readonly key: string | undefined;
  readonly headers: RecordHeaders;
  readonly body: Uint8Array;
}

/** The field/value arguments of `XADD` for a record: body first, then key, then headers. */
export function encodeFields(content: EntryContent): (string | Buffer)[] {
  const { body } = content;
  const args: (string | Buffer)[] = [
    FIELDS.body,
    Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
  ];
  if (content.key !== undefined) args.push(FIELDS.key, content.key);
  for (const [name, value] of Object.entries(content.headers)) {
    args.push(name.startsWith('$') ? `$${name}` : name, value);
  }
  return args;
}

// Field names repeat from entry to entry (the records of a topic carry the same headers in the same
// order), and so do many header values: decoded once while they repeat at their position.
const names = new RepeatedText();
const values = new RepeatedText();

/**
 * Reads a record back from an entry's fields, as returned in buffer mode. Fields with reserved
 * names this version does not know are skipped; an entry written by another tool without a
 * `$body` field reads as an empty body (the core then dead-letters what it cannot decode). Bytes
 * that are not UTF-8 in a name, a value or the key read as U+FFFD, never as an error.
 *
 * The headers are a prototype-free object: a field called `__proto__`, `constructor` or
 * `toString` is a header like any other, and a header that is absent reads as `undefined`, never
 * as a member of `Object.prototype`.
 */
export function decodeFields(fields: readonly Buffer[]): EntryContent {
  let body: Uint8Array | undefined;
  let key: string | undefined;
  const headers = emptyHeaders();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const slot = i >> 1;
    const name = names.text(fields[i]!, slot);
    const value = fields[i + 1]!;
    if (name === FIELDS.body) body = value;
    else if (name === FIELDS.key) key = value.toString('utf8');
    else if (name.startsWith('$$')) headers[name.slice(1)] = values.text(value, slot);
    else if (!name.startsWith('$')) headers[name] = values.text(value, slot);
  }
  return { key, headers, body: body ?? new Uint8Array(0) };
}

/**
 * A header object without a prototype. Plain assignment is safe on it: with no
 * `Object.prototype` there is no `__proto__` setter, so `headers['__proto__'] = v` makes an own
 * property like any other name.
 */
export function emptyHeaders(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/** Encodes the headers a retry adds to its record, as kept beside the pending entry. */
export function encodeHeaders(headers: RecordHeaders): string {
  return JSON.stringify(headers);
}

/** Decodes {@link encodeHeaders}; anything that is not an object of strings reads as no headers. */
export function decodeHeaders(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const headers = emptyHeaders();
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}
