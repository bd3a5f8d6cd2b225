import type { Logger } from '@tidings/core';

/** One line a bus logged. */
export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/**
 * A logger that keeps every line, and lets a test wait for one (woken by each line, never polled).
 */
export class LogCapture implements Logger {
  readonly lines: LogLine[] = [];
  private waiters: (() => void)[] = [];

  readonly debug = (fields: Record<string, unknown>, message: string): void =>
    this.add('debug', fields, message);
  readonly info = (fields: Record<string, unknown>, message: string): void =>
    this.add('info', fields, message);
  readonly warn = (fields: Record<string, unknown>, message: string): void =>
    this.add('warn', fields, message);
  readonly error = (fields: Record<string, unknown>, message: string): void =>
    this.add('error', fields, message);

  /** Lines whose message matches. */
  matching(pattern: RegExp): LogLine[] {
    return this.lines.filter((line) => pattern.test(line.message));
  }

  /** Resolves once `count` lines match `pattern`; rejects after `timeoutMs` listing what was logged. */
  async until(pattern: RegExp, timeoutMs: number, count = 1): Promise<LogLine[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.matching(pattern).length < count) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${count} log line(s) matching ${pattern}; logged:\n${this.lines.map((l) => `  ${l.level} ${l.message}`).join('\n')}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.matching(pattern);
  }

  private add(level: string, fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level, message, fields });
    for (const wake of this.waiters.splice(0)) wake();
  }
}
