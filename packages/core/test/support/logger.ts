import type { LogFields, Logger, LogLevel } from '../../src/logging/logger';

/** One line a {@link recordingLogger} took. */
export interface Line {
  readonly level: LogLevel;
  readonly fields: LogFields;
  readonly message: string;
}

/** A logger that keeps every line, for tests to read. */
export function recordingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: LogLevel) => (fields: LogFields, message: string) => {
    lines.push({ level, fields, message });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
