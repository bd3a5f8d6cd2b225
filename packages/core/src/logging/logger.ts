import { ConfigError, isTidingsError } from '../errors';
import { urlRedactor } from '../internal/redact';
import { clip } from '../internal/text';

/**
 * Structured fields of one log line: correlation ids, the error (under `err`, as pino expects),
 * counts.
 *
 * @example
 * ```ts
 * const fields: LogFields = { eventId: '0190b5d2-...', group: 'email', attempt: 2, err: error };
 * ```
 */
export type LogFields = Record<string, unknown>;

/**
 * One logging method: structured fields first, then the message, as pino and bunyan take them.
 *
 * @example
 * ```ts
 * const warn: LogMethod = (fields, message) => console.warn(message, fields);
 * ```
 */
export type LogMethod = (fields: LogFields, message: string) => void;

/**
 * Where the bus writes what it has to say: handler failures and retries, dead letters, connection
 * and subscription changes, drain timeouts. Every line about a message carries its correlation
 * fields (`eventId`, `eventType`, `group`, `attempt`, `topic`) and, when tracing is on, `traceId`.
 *
 * The shape is pino's (`logger.warn({ eventId }, 'message')`), so a pino logger fits as it is, and
 * so does `console` (it prints the fields, then the message). The bus logs nothing per message on
 * the happy path: a line is written only when something needs a human.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 *
 * const bus = createBus({ source: 'order-service', logger: pino({ level: 'info' }) });
 * // or, for a quick look:
 * const debugBus = createBus({ source: 'order-service', logger: console });
 * ```
 */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

/**
 * The severities a {@link Logger} has.
 *
 * @example
 * ```ts
 * const level: LogLevel = 'warn';
 * logger[level]({ group: 'email' }, 'slow handler');
 * ```
 */
export type LogLevel = keyof Logger;

const ignore: LogMethod = () => undefined;

/**
 * A logger that writes nothing: the bus's default.
 *
 * @example
 * ```ts
 * const bus = createBus({ source: 'order-service', logger: silentLogger });
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
});

/**
 * @internal The bus's view of the user's logger: a logger that throws or is missing a method must
 * not break consumption, so every call is guarded.
 */
export class SafeLogger {
  /** False for the silent default, so callers can skip building fields nobody reads. */
  readonly enabled: boolean;

  constructor(private readonly logger: Logger) {
    this.enabled = logger !== silentLogger;
  }

  log(level: LogLevel, fields: LogFields, message: string): void {
    if (!this.enabled) return;
    try {
      this.logger[level](bounded(fields), clip(urlRedactor.text(message), MAX_MESSAGE));
    } catch {
      // Logging is best effort: a broken logger is no reason to lose or redeliver a message.
    }
  }
}

/** @internal Checks the `logger` option and wraps it; a bad logger is a `ConfigError`. */
export function resolveLogger(logger: Logger | undefined): SafeLogger {
  if (logger === undefined) return new SafeLogger(silentLogger);
  for (const level of LEVELS) {
    if (typeof logger?.[level] !== 'function') {
      throw new ConfigError('logger', `must have debug, info, warn and error methods; ${level} is missing`);
    }
  }
  return new SafeLogger(logger);
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Longest log message, and longest string field, in characters. */
const MAX_MESSAGE = 2_000;
const MAX_FIELD = 1_000;

/**
 * Every line the bus writes is bounded and free of URL credentials, whatever it quotes: a poison
 * record's 100 KB type, a client error that names the URL it could not reach with its password.
 * Strings are clipped, errors replaced by a redacted copy (same class, message clipped).
 */
function bounded(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const name of Object.keys(fields)) {
    const value = fields[name];
    if (typeof value === 'string') out[name] = clip(urlRedactor.text(value), MAX_FIELD);
    else if (value instanceof Error) out[name] = boundedError(value);
    else out[name] = value;
  }
  return out;
}

function boundedError(error: Error): Error {
  // Tidings's own errors, whole chain, hold nothing but what Tidings wrote: logged as they are when
  // short and free of URLs. Any other error may carry what its client attached (the failed command
  // with its password): a redacted copy, whose causes are redacted copies too.
  if (isPlain(error, 0)) return error;
  const copy = urlRedactor.error(error);
  copy.message = clip(copy.message, MAX_MESSAGE);
  if (typeof copy.stack === 'string') copy.stack = clip(copy.stack, MAX_MESSAGE * 4);
  return copy;
}

/** Whether an error and its causes say nothing that needs clipping or redacting. */
function isPlain(error: unknown, depth: number): boolean {
  if (!(error instanceof Error))
    return typeof error !== 'string' || (error.length <= MAX_FIELD && !error.includes('://'));
  if (!isTidingsError(error)) return false;
  if (error.message.length > MAX_MESSAGE || error.message.includes('://')) return false;
  if (
    typeof error.stack === 'string' &&
    (error.stack.length > MAX_MESSAGE * 4 || error.stack.includes('://'))
  ) {
    return false;
  }
  return error.cause === undefined || (depth < 5 && isPlain(error.cause, depth + 1));
}
