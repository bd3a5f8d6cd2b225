import { type LogEntry, type logCreator, logLevel } from 'kafkajs';

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

const FROM_KAFKAJS: Partial<Record<number, KafkaLogLevel>> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

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

/** @internal */
export function createAdapterLog(logger: KafkaLogger | undefined, level: KafkaLogLevel): AdapterLog {
  if (logger === undefined) return silentLogger;
  const threshold = RANK[level];
  return {
    enabled: (candidate) => RANK[candidate] <= threshold,
    log(candidate, message, fields = {}) {
      if (RANK[candidate] > threshold) return;
      try {
        logger({ level: candidate, message, namespace: 'tidings', fields });
      } catch {
        // A failing logger must not break consumption.
      }
    },
  };
}

/** @internal The kafkajs log level that lets through what `level` asks for, or nothing. */
export function kafkajsLogLevel(logger: KafkaLogger | undefined, level: KafkaLogLevel): logLevel {
  return logger === undefined ? logLevel.NOTHING : (RANK[level] as logLevel);
}

/** @internal Routes kafkajs's own log entries to the user's logger (kafkajs logs to the console by default). */
export function kafkajsLogCreator(logger: KafkaLogger | undefined): logCreator {
  return () =>
    (entry: LogEntry): void => {
      if (logger === undefined) return;
      const level = FROM_KAFKAJS[entry.level];
      if (level === undefined) return;
      const { message, timestamp: _timestamp, ...fields } = entry.log;
      if (EXPECTED_WARNINGS.has(message)) return;
      try {
        logger({ level, message, namespace: entry.namespace, fields });
      } catch {
        // ignored, as above
      }
    };
}
