import { clip, quote } from './internal/text';

/**
 * Machine-readable codes of every error Tidings raises. Switch on `error.code` rather than on the
 * class when the error may have crossed a package boundary (two copies of `@tidings/core`).
 */
export type TidingsErrorCode =
  | 'CONFIG'
  | 'VALIDATION'
  | 'DECODE'
  | 'ENCODE'
  | 'UNKNOWN_EVENT_TYPE'
  | 'MESSAGE_TOO_LARGE'
  | 'PUBLISH'
  | 'CONNECTION'
  | 'CLOSED'
  | 'TIMEOUT'
  | 'NON_RETRYABLE'
  | 'DUPLICATE_IN_PROGRESS'
  | 'HANDLER'
  | 'DEAD_LETTER_NOT_FOUND'
  | 'CAPABILITY_UNAVAILABLE';

/** Options accepted by every Tidings error constructor. */
export interface TidingsErrorOptions {
  /** The underlying error, kept as the standard `cause`. */
  cause?: unknown;
}

/**
 * Base class of every error Tidings throws or records.
 *
 * @example
 * ```ts
 * try {
 *   await bus.publish(OrderPlaced, input);
 * } catch (error) {
 *   if (error instanceof TidingsError && error.code === 'VALIDATION') reply(400, error.message);
 *   else throw error;
 * }
 * ```
 */
export class TidingsError extends Error {
  override readonly name: string = 'TidingsError';
  /** Machine-readable code; stable across releases. */
  readonly code: TidingsErrorCode;

  constructor(code: TidingsErrorCode, message: string, options: TidingsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /**
   * Whether the delivery policies may retry a handler that failed with this error. Errors of the
   * message itself (bad bytes, schema violation, unknown type) are not: retrying cannot fix them.
   */
  get retryable(): boolean {
    return true;
  }
}

/** A configuration object failed its checks; the message names the field. */
export class ConfigError extends TidingsError {
  override readonly name = 'ConfigError';
  /** Dotted path of the offending option, for example `retry.maxAttempts`. */
  readonly field: string;

  constructor(field: string, message: string, options?: TidingsErrorOptions) {
    super('CONFIG', `${field}: ${message}`, options);
    this.field = field;
  }
}

/** One problem found by a schema, with the path of the offending value. */
export interface ValidationIssue {
  /** Path from the event's data to the offending value, e.g. `['items', 0, 'sku']`. */
  readonly path: readonly (string | number)[];
  /** What is wrong, in the schema library's words. */
  readonly message: string;
}

/**
 * An event was refused before anything was sent or handled: its data does not match its
 * contract's schema (on publish, or on consume), or a publish option is malformed (an empty or
 * multi-line id, a `time` that is no date, a reserved extension name, a header value that is not a
 * string, a topic the adapter refuses). `field` says which.
 */
export class ValidationError extends TidingsError {
  override readonly name = 'ValidationError';
  /** The event type whose schema rejected the data. */
  readonly eventType: string;
  /** Every issue the schema reported. */
  readonly issues: readonly ValidationIssue[];
  /**
   * What was refused: `data` for schema issues (their paths start inside the data), else the
   * publish option, e.g. `id`, `time`, `key`, `topic`, `extensions.region`, `headers.x-tenant`.
   */
  readonly field: string;

  constructor(
    eventType: string,
    issues: readonly ValidationIssue[],
    options?: TidingsErrorOptions & { readonly field?: string },
  ) {
    const field = options?.field ?? 'data';
    const prefix = field === 'data' ? '' : `${field}: `;
    super('VALIDATION', `${clip(eventType, 200)}: ${prefix}${formatIssues(issues)}`, options);
    this.eventType = eventType;
    this.issues = issues;
    this.field = field;
  }

  override get retryable(): boolean {
    return false;
  }
}

/**
 * Event data could not be encoded for the wire (a circular structure, a `BigInt`, a codec that
 * failed). Thrown by `publish` before anything is sent: nothing was published.
 */
export class EncodeError extends TidingsError {
  override readonly name = 'EncodeError';
  /** The event type whose data failed to encode. */
  readonly eventType: string;

  constructor(eventType: string, message: string, options?: TidingsErrorOptions) {
    super('ENCODE', `${clip(eventType, 200)}: ${message}; nothing was published`, options);
    this.eventType = eventType;
  }

  override get retryable(): boolean {
    return false;
  }
}

/** The bytes or headers of an incoming record cannot be turned into an event. */
export class DecodeError extends TidingsError {
  override readonly name = 'DecodeError';

  constructor(message: string, options?: TidingsErrorOptions) {
    super('DECODE', message, options);
  }

  override get retryable(): boolean {
    return false;
  }
}

/** A record carries an event type that the subscription (or the registry) does not know. */
export class UnknownEventTypeError extends TidingsError {
  override readonly name = 'UnknownEventTypeError';
  /** The type found on the record. */
  readonly eventType: string;

  constructor(eventType: string, known: readonly string[], options?: TidingsErrorOptions) {
    super(
      'UNKNOWN_EVENT_TYPE',
      `unknown event type ${quote(eventType)}; this subscription handles ${known.map((t) => `"${t}"`).join(', ')}`,
      options,
    );
    this.eventType = eventType;
  }

  override get retryable(): boolean {
    return false;
  }
}

/** An encoded event is larger than the configured or broker limit. */
export class MessageTooLargeError extends TidingsError {
  override readonly name = 'MessageTooLargeError';
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number, options?: TidingsErrorOptions) {
    super('MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds the limit of ${limit} bytes`, options);
    this.size = size;
    this.limit = limit;
  }

  override get retryable(): boolean {
    return false;
  }
}

/** The broker did not accept a record: not acknowledged, rejected, unroutable or timed out. */
export class PublishError extends TidingsError {
  override readonly name = 'PublishError';
  /** The destination the record was meant for, when known. */
  readonly topic: string | undefined;

  constructor(message: string, options: TidingsErrorOptions & { topic?: string } = {}) {
    super('PUBLISH', message, options);
    this.topic = options.topic;
  }
}

/** The connection to the broker failed or was lost. */
export class ConnectionError extends TidingsError {
  override readonly name = 'ConnectionError';

  constructor(message: string, options?: TidingsErrorOptions) {
    super('CONNECTION', message, options);
  }
}

/** An operation was attempted on a bus, adapter or subscription that is closed. */
export class ClosedError extends TidingsError {
  override readonly name = 'ClosedError';

  constructor(message: string, options?: TidingsErrorOptions) {
    super('CLOSED', message, options);
  }
}

/** A handler, publish or drain took longer than its limit. */
export class TimeoutError extends TidingsError {
  override readonly name = 'TimeoutError';
  /** The limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, options?: TidingsErrorOptions) {
    super('TIMEOUT', message, options);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Thrown by a handler to say that retrying is pointless: the message goes straight to the
 * dead-letter destination with this error's message as the reason.
 *
 * @example
 * ```ts
 * bus.subscribe(OrderPlaced, { group: 'billing' }, async (event) => {
 *   if (!(await customers.exists(event.data.customerId))) {
 *     throw new NonRetryableError(`customer ${event.data.customerId} does not exist`);
 *   }
 * });
 * ```
 */
export class NonRetryableError extends TidingsError {
  override readonly name = 'NonRetryableError';

  constructor(message: string, options?: TidingsErrorOptions) {
    super('NON_RETRYABLE', message, options);
  }

  override get retryable(): boolean {
    return false;
  }
}

/** A handler threw something that is not an `Error`; the value is kept as `cause`. */
export class HandlerError extends TidingsError {
  override readonly name = 'HandlerError';

  constructor(message: string, options?: TidingsErrorOptions) {
    super('HANDLER', message, options);
  }
}

/**
 * No dead letter with this id is stored (it was redriven or purged, or never existed).
 *
 * @example
 * ```ts
 * try {
 *   await operator.deadLetter({ topic: 'order.placed', group: 'billing' }, id);
 * } catch (error) {
 *   if (error instanceof DeadLetterNotFoundError) console.log(`${error.id} is gone`);
 * }
 * ```
 */
export class DeadLetterNotFoundError extends TidingsError {
  override readonly name = 'DeadLetterNotFoundError';
  /** The id that was asked for. */
  readonly id: string;

  constructor(id: string, where: string, options?: TidingsErrorOptions) {
    super('DEAD_LETTER_NOT_FOUND', `no dead letter "${id}" is stored in ${where}`, options);
    this.id = id;
  }
}

/**
 * The adapter cannot do what was asked (browse dead letters, replay history): its broker does not
 * allow it, or the adapter does not implement it yet. The message gives the adapter's reason.
 *
 * @example
 * ```ts
 * try {
 *   await operator.replay('order.placed', 'billing', { time: new Date(Date.now() - 3_600_000) });
 * } catch (error) {
 *   if (error instanceof CapabilityUnavailableError) console.log(error.capability, error.message);
 * }
 * ```
 */
export class CapabilityUnavailableError extends TidingsError {
  override readonly name = 'CapabilityUnavailableError';
  /** The capability asked for: `deadLetters`, `replay` (see `AdapterOperations`) or `groups` (`GroupAdmin`). */
  readonly capability: string;

  constructor(capability: string, message: string, options?: TidingsErrorOptions) {
    super('CAPABILITY_UNAVAILABLE', message, options);
    this.capability = capability;
  }
}

/** Whether a value is a Tidings error, also across duplicate copies of this package. */
export function isTidingsError(value: unknown): value is TidingsError {
  return (
    value instanceof TidingsError ||
    (value instanceof Error && typeof (value as { code?: unknown }).code === 'string' && 'retryable' in value)
  );
}

/**
 * Converts any thrown value to an `Error` at a boundary, so that policies and logs always see a
 * message and a name.
 */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  const text = typeof value === 'string' ? value : safeStringify(value);
  return new HandlerError(`non-error value thrown: ${text}`, { cause: value });
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function formatIssues(issues: readonly ValidationIssue[]): string {
  if (issues.length === 0) return 'invalid data';
  const shown = issues
    .slice(0, 3)
    .map((issue) =>
      clip(issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message, 300),
    );
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return shown.join('; ') + more;
}
