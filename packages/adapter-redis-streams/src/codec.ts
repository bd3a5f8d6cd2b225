import { type OutgoingRecord, PublishError, type RecordHeaders } from '@tidings/core/adapter';

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

/**
 * Why `adapter.publish` cannot write `record` as an entry, or `undefined` when it can: the key must
 * be a string when given, every header value a string, the body bytes. Called before anything is
 * sent, so a caller's mistake is a `PublishError` naming the header rather than a `TypeError`
 * from deep inside ioredis (or, worse, a number silently stored as text).
 */
export function recordProblem(record: OutgoingRecord): string | undefined {
  if (typeof record !== 'object' || record === null) return 'a record must be an object';
  if (record.key !== undefined && typeof record.key !== 'string') {
    return `the key must be a string or undefined, got ${typeof record.key}`;
  }
  if (!(record.body instanceof Uint8Array))
    return `the body must be a Uint8Array, got ${typeOf(record.body)}`;
  const { headers } = record;
  if (typeof headers !== 'object' || headers === null)
    return `the headers must be an object, got ${typeOf(headers)}`;
  for (const name of Object.keys(headers)) {
    const value: unknown = headers[name];
    if (typeof value !== 'string') {
      return `header ${JSON.stringify(name.slice(0, 100))} must be a string, got ${typeOf(value)}`;
    }
  }
  return undefined;
}

function typeOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** Throws the `PublishError` of {@link recordProblem}, naming the record's topic. */
export function checkRecord(record: OutgoingRecord): void {
  const problem = recordProblem(record);
  if (problem !== undefined) {
    const topic: unknown = (record as { topic?: unknown } | null)?.topic;
    if (typeof topic !== 'string') throw new PublishError(`cannot publish a record: ${problem}`);
    throw new PublishError(`cannot publish a record for "${topic.slice(0, 200)}": ${problem}`, { topic });
  }
}

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
  let body: Uint8Array = new Uint8Array(0);
  let key: string | undefined;
  const headers = emptyHeaders();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString('utf8');
    const value = fields[i + 1]!;
    if (name === FIELDS.body) body = value;
    else if (name === FIELDS.key) key = value.toString('utf8');
    else if (name.startsWith('$$')) headers[name.slice(1)] = value.toString('utf8');
    else if (!name.startsWith('$')) headers[name] = value.toString('utf8');
  }
  return { key, headers, body };
}

/**
 * A header object without a prototype. Plain assignment is safe on it: with no
 * `Object.prototype` there is no `__proto__` setter, so `headers['__proto__'] = v` makes an own
 * property like any other name.
 */
export function emptyHeaders(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/** `base` with `over` merged over it, in a new prototype-free object (see {@link emptyHeaders}). */
export function mergeHeaders(base: RecordHeaders, over: RecordHeaders | undefined): Record<string, string> {
  const merged = emptyHeaders();
  for (const name of Object.keys(base)) merged[name] = base[name]!;
  if (over !== undefined) for (const name of Object.keys(over)) merged[name] = over[name]!;
  return merged;
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
