import { inspect } from 'node:util';
import type { LogFields, Logger, LogLevel } from '@tidings/core';

/** One line a bus wrote. */
export interface LogLine {
  readonly level: LogLevel;
  readonly fields: LogFields;
  readonly message: string;
}

/** A logger that keeps every line, for a test to read and to wait on. */
export class LogCapture implements Logger {
  readonly lines: LogLine[] = [];
  private waiters: (() => void)[] = [];

  readonly debug = (fields: LogFields, message: string): void => this.push('debug', fields, message);
  readonly info = (fields: LogFields, message: string): void => this.push('info', fields, message);
  readonly warn = (fields: LogFields, message: string): void => this.push('warn', fields, message);
  readonly error = (fields: LogFields, message: string): void => this.push('error', fields, message);

  /** The messages written so far. */
  messages(): string[] {
    return this.lines.map((line) => line.message);
  }

  /** Every line, fields and errors (with their causes) included, as text. */
  text(): string {
    return this.lines
      .map((line) => `${line.level} ${line.message} ${inspect(line.fields, { depth: 8 })}`)
      .join('\n');
  }

  /** Resolves with the first line whose message matches; rejects after `timeoutMs`. */
  async until(pattern: RegExp, timeoutMs: number): Promise<LogLine> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((l) => pattern.test(l.message));
      if (line !== undefined) return line;
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `no log line matched ${pattern} within ${timeoutMs} ms; got:\n${this.messages().join('\n')}`,
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
  }

  private push(level: LogLevel, fields: LogFields, message: string): void {
    this.lines.push({ level, fields, message });
    for (const wake of this.waiters.splice(0)) wake();
  }
}
