import { createRedactor, type Redactor } from '@tidings/core/adapter';
import type { LogEntry, logCreator, logLevel } from 'kafkajs';

/**
 * Severity of a log entry, most severe first.
 *
 * @example
 * ```ts
 * const adapter = createKafkaAdapter({ brokers, logger, logLevel: 'info' });
 * ```
 */
export type KafkaLogLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * One log entry from kafkajs or from the adapter itself.
 *
 * @example
 * ```ts
 * const logger: KafkaLogger = (entry: KafkaLogEntry) => console.warn(`[${entry.namespace}] ${entry.message}`, entry.fields);
 * ```
 */
export interface KafkaLogEntry {
  readonly level: KafkaLogLevel;
  readonly message: string;
  /** `tidings` for the adapter's own entries, else the kafkajs component (`Consumer`, `Runner`...). */
  readonly namespace: string;
  /** Structured details: group, topic, partition, error... */
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * Receives log entries. Map it onto your logger; the adapter never writes to the console itself.
 *
 * @example
 * ```ts
 * const logger: KafkaLogger = (entry) => pino[entry.level]({ ...entry.fields, ns: entry.namespace }, entry.message);
 * ```
 */
export type KafkaLogger = (entry: KafkaLogEntry) => void;

const RANK: Record<KafkaLogLevel, number> = { error: 1, warn: 2, info: 4, debug: 5 };

/** kafkajs's `logLevel` numbers (NOTHING 0, ERROR 1, WARN 2, INFO 4, DEBUG 5), read without loading kafkajs. */
const KAFKAJS_NOTHING = 0;
const FROM_KAFKAJS: Partial<Record<number, KafkaLogLevel>> = { 1: 'error', 2: 'warn', 4: 'info', 5: 'debug' };

// The adapter bounds producer retries on purpose and resets the idempotent producer after a failed
// send (see publisher.ts), which is what this kafkajs warning is about.
const EXPECTED_WARNINGS = new Set([
  'Limiting retries for the idempotent producer may invalidate EoS guarantees',
]);

/** @internal A logger that does nothing: the default. */
export const silentLogger: AdapterLog = {
  enabled: () => false,
  log: () => undefined,
};

/** @internal The adapter's view of its logger: a level filter in front of the user's function. */
export interface AdapterLog {
  enabled(level: KafkaLogLevel): boolean;
  log(level: KafkaLogLevel, message: string, fields?: Record<string, unknown>): void;
}

/** URL credentials only, for callers that know no secrets. */
const URLS_ONLY = createRedactor();

/** Deepest nesting of log fields that is walked; deeper values are left out. */
const MAX_FIELD_DEPTH = 4;

/**
 * @internal A copy of log fields with every string passed through `redactor` and every error
 * replaced by its redacted copy: kafkajs and the adapter put error messages, stacks and broker
 * answers in fields, and none of them may carry a password out.
 */
export function redactFields(fields: Record<string, unknown>, redactor: Redactor): Record<string, unknown> {
  return redactValue(fields, redactor, 0) as Record<string, unknown>;
}

function redactValue(value: unknown, redactor: Redactor, depth: number): unknown {
  if (typeof value === 'string') return redactor.text(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return redactor.error(value);
  if (ArrayBuffer.isView(value)) return value;
  if (depth >= MAX_FIELD_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.map((item) => redactValue(item, redactor, depth + 1));
  // fromEntries defines properties, so a field named `__proto__` stays a field.
  return Object.fromEntries(
    Object.entries(value).map(([name, item]) => [name, redactValue(item, redactor, depth + 1)]),
  );
}

/** @internal */
export function createAdapterLog(
  logger: KafkaLogger | undefined,
  level: KafkaLogLevel,
  redactor: Redactor = URLS_ONLY,
): AdapterLog {
  if (logger === undefined) return silentLogger;
  const threshold = RANK[level];
  return {
    enabled: (candidate) => RANK[candidate] <= threshold,
    log(candidate, message, fields = {}) {
      if (RANK[candidate] > threshold) return;
      try {
        logger({
          level: candidate,
          message: redactor.text(message),
          namespace: 'tidings',
          fields: redactFields(fields, redactor),
        });
      } catch {
        // A failing logger must not break consumption.
      }
    },
  };
}

/** @internal The kafkajs log level that lets through what `level` asks for, or nothing. */
export function kafkajsLogLevel(logger: KafkaLogger | undefined, level: KafkaLogLevel): logLevel {
  return (logger === undefined ? KAFKAJS_NOTHING : RANK[level]) as logLevel;
}

/**
 * @internal Routes kafkajs's own log entries to the user's logger (kafkajs logs to the console by
 * default), credentials redacted.
 */
export function kafkajsLogCreator(
  logger: KafkaLogger | undefined,
  redactor: Redactor = URLS_ONLY,
): logCreator {
  return () =>
    (entry: LogEntry): void => {
      if (logger === undefined) return;
      const level = FROM_KAFKAJS[entry.level];
      if (level === undefined) return;
      const { message, timestamp: _timestamp, ...fields } = entry.log;
      if (EXPECTED_WARNINGS.has(message)) return;
      try {
        logger({
          level,
          message: redactor.text(String(message)),
          namespace: entry.namespace,
          fields: redactFields(fields, redactor),
        });
      } catch {
        // ignored, as above
      }
    };
}
