import type { PublishOptions } from '../context/publish';
import { ATTRIBUTE_NAMES } from '../envelope/envelope';
import { ValidationError } from '../errors';
import { quote } from '../internal/text';

/**
 * Checks of what a caller passes to `publish` beside the data: the same on every adapter, before
 * anything is encoded or sent, each failure a `ValidationError` whose `field` names the option.
 * They keep a caller from forging an event (an extension named `id` replacing the event id, a
 * header named `ce_type` or `tidings-attempt`) and from sending what a broker or a consumer would
 * refuse later (an empty id, a CR/LF in a NATS header, a `time` that is no date).
 *
 * @module
 */

/** CloudEvents context attributes and the extensions Tidings writes itself. */
const RESERVED_EXTENSIONS = new Set<string>([...ATTRIBUTE_NAMES, 'data', 'data_base64']);

/** The CloudEvents naming rule for extension attributes. */
const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
/** Visible ASCII except `:` (NATS and HTTP header names), at most 255 bytes (AMQP field names). */
const HEADER_NAME = /^[!-9;-~]{1,255}$/;
/** Header names the envelope's bindings and the core own, on any adapter. */
const RESERVED_HEADER = /^(ce[-_]|cloudevents:|tidings-|content-type$)/i;
/** Any control character: none belongs in an id. */
const CONTROL = /\p{Cc}/u;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** Longest event id; ids are deduplication keys and log fields, not payloads. */
const MAX_ID_LENGTH = 256;

/** @internal Throws a `ValidationError` naming `field`. */
function refuse(eventType: string, field: string, message: string): never {
  throw new ValidationError(eventType, [{ path: [], message }], { field });
}

/** @internal Checks a string attribute that travels as a header value. */
export function checkHeaderValue(eventType: string, field: string, value: unknown): string {
  if (typeof value !== 'string') refuse(eventType, field, `must be a string, got ${describe(value)}`);
  // CR, LF and NUL end or split a header on text protocols (NATS).
  if (value.includes('\r') || value.includes('\n') || value.includes('\0')) {
    refuse(eventType, field, 'must not contain CR, LF or NUL');
  }
  return value;
}

/** @internal Checks an event id (given by the caller). */
export function checkId(eventType: string, id: unknown): string {
  if (typeof id !== 'string') refuse(eventType, 'id', `must be a string, got ${describe(id)}`);
  if (id.length === 0) refuse(eventType, 'id', 'must not be empty');
  if (id.length > MAX_ID_LENGTH) refuse(eventType, 'id', `must be at most ${MAX_ID_LENGTH} characters`);
  if (CONTROL.test(id)) refuse(eventType, 'id', 'must not contain control characters');
  return id;
}

/** @internal Checks `time` and returns it as RFC 3339 text. */
export function checkTime(eventType: string, time: unknown): string {
  if (time instanceof Date) {
    if (Number.isNaN(time.getTime())) refuse(eventType, 'time', 'is an invalid Date');
    return time.toISOString();
  }
  if (typeof time !== 'string')
    refuse(eventType, 'time', `must be a Date or an RFC 3339 string, got ${describe(time)}`);
  if (!RFC3339.test(time) || Number.isNaN(Date.parse(time))) {
    refuse(
      eventType,
      'time',
      `must be an RFC 3339 timestamp such as 2026-12-01T10:00:00Z, got ${quote(time, 60)}`,
    );
  }
  return time;
}

/** @internal Checks the extension attributes and returns a copy. */
export function checkExtensions(eventType: string, extensions: unknown): Record<string, string> {
  if (extensions === null || typeof extensions !== 'object' || Array.isArray(extensions)) {
    refuse(eventType, 'extensions', `must be an object of strings, got ${describe(extensions)}`);
  }
  const out: Record<string, string> = {};
  for (const name of Object.keys(extensions)) {
    const field = `extensions.${fieldName(name)}`;
    if (!EXTENSION_NAME.test(name)) {
      refuse(eventType, field, 'extension names are 1 to 20 lower-case letters and digits (CloudEvents)');
    }
    if (RESERVED_EXTENSIONS.has(name)) {
      refuse(
        eventType,
        field,
        `"${name}" is a CloudEvents attribute or one Tidings sets; use the publish option instead`,
      );
    }
    out[name] = checkHeaderValue(eventType, field, (extensions as Record<string, unknown>)[name]);
  }
  return out;
}

/** @internal Checks the transport headers and returns a copy. */
export function checkHeaders(eventType: string, headers: unknown): Record<string, string> {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    refuse(eventType, 'headers', `must be an object of strings, got ${describe(headers)}`);
  }
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    const field = `headers.${fieldName(name)}`;
    if (!HEADER_NAME.test(name)) {
      refuse(eventType, field, 'header names are 1 to 255 visible ASCII characters, without ":"');
    }
    if (RESERVED_HEADER.test(name)) {
      refuse(
        eventType,
        field,
        'names starting with ce_, ce-, cloudEvents:, tidings- and content-type belong to the envelope',
      );
    }
    // Defined, not assigned: a header named `__proto__` must stay a header.
    Object.defineProperty(out, name, {
      value: checkHeaderValue(eventType, field, (headers as Record<string, unknown>)[name]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** @internal Checks `traceparent` (W3C trace context). */
export function checkTraceparent(eventType: string, value: unknown): string {
  const text = checkHeaderValue(eventType, 'traceparent', value);
  if (!TRACEPARENT.test(text))
    refuse(eventType, 'traceparent', `is not a W3C traceparent: ${quote(text, 60)}`);
  return text;
}

/** @internal Checks the string options of one publish (the others are checked where they are copied). */
export function checkPublishOptions(eventType: string, options: PublishOptions): void {
  if (options.id !== undefined) checkId(eventType, options.id);
  if (options.key !== undefined) checkHeaderValue(eventType, 'key', options.key);
  if (options.subject !== undefined) checkHeaderValue(eventType, 'subject', options.subject);
  if (options.correlationId !== undefined)
    checkHeaderValue(eventType, 'correlationId', options.correlationId);
  if (options.causationId !== undefined) checkHeaderValue(eventType, 'causationId', options.causationId);
  if (options.traceparent !== undefined) checkTraceparent(eventType, options.traceparent);
  if (options.tracestate !== undefined) checkHeaderValue(eventType, 'tracestate', options.tracestate);
}

function fieldName(name: string): string {
  return name.length <= 40 ? name : `${name.slice(0, 39)}…`;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
