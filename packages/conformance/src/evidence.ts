import { inspect } from 'node:util';
import type { LogFields, Logger, LogLevel } from '@tidings/core';
import { expect } from 'vitest';

/** One line a bus or an adapter logged. */
export interface LogLine {
  readonly level: LogLevel;
  readonly fields: LogFields;
  readonly message: string;
}

/**
 * A logger that keeps every line and lets a test wait for one, woken by each line: for the lines
 * an adapter makes the bus write ("connection lost; reconnecting", "connection restored").
 *
 * @example
 * ```ts
 * const logs = new LogCapture();
 * const bus = createBus({ source: 'test', adapter, logger: logs });
 * await restartBroker();
 * await logs.until(/connection restored/, 30_000);
 * ```
 */
export class LogCapture implements Logger {
  readonly lines: LogLine[] = [];
  private waiters: (() => void)[] = [];

  readonly debug = (fields: LogFields, message: string): void => this.push('debug', fields, message);
  readonly info = (fields: LogFields, message: string): void => this.push('info', fields, message);
  readonly warn = (fields: LogFields, message: string): void => this.push('warn', fields, message);
  readonly error = (fields: LogFields, message: string): void => this.push('error', fields, message);

  /** Lines whose message matches. */
  matching(pattern: RegExp): LogLine[] {
    return this.lines.filter((line) => pattern.test(line.message));
  }

  /**
   * Resolves with the lines matching `pattern` once there are `count` of them; rejects after
   * `timeoutMs` with everything that was logged.
   */
  async until(pattern: RegExp, timeoutMs: number, count = 1): Promise<LogLine[]> {
    const deadline = performance.now() + timeoutMs;
    while (this.matching(pattern).length < count) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `no ${count} log line(s) matched ${pattern} within ${timeoutMs} ms; logged:\n${this.lines
            .map((line) => `  ${line.level} ${line.message}`)
            .join('\n')}`,
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

  /** Every line, its fields and errors (with their causes) included, as text. */
  text(): string {
    return this.lines.map((line) => `${line.level} ${line.message} ${deep(line.fields)}`).join('\n');
  }

  private push(level: LogLevel, fields: LogFields, message: string): void {
    this.lines.push({ level, fields, message });
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/**
 * Everything an adapter and a bus said while a test tried to reach a broker with a credential:
 * the errors they threw (whole cause chains, hidden properties, stacks), the lines they logged
 * (pass {@link SecretEvidence.logger} to the bus and the adapter), and the health reports they
 * gave. {@link expectNoSecret} then looks for the credential in all of it, as written and
 * URL-encoded.
 *
 * @example
 * ```ts
 * const evidence = new SecretEvidence();
 * const bus = createBus({ source: 'test', adapter: createMyAdapter({ url: `my://app:${secret}@127.0.0.1:1` }), logger: evidence.logger });
 * await evidence.failure(bus.start());
 * evidence.add(bus.health());
 * evidence.expectNoSecret(secret);
 * ```
 */
export class SecretEvidence {
  readonly items: unknown[] = [];
  /** A logger whose every line is kept as evidence. */
  readonly logger: LogCapture = new LogCapture();

  /** Adds anything to look through: a health report, an error, a state. */
  add(item: unknown): void {
    this.items.push(item);
  }

  /** Awaits `promise`, expecting it to reject, and keeps the error; resolves with it. */
  async failure(promise: Promise<unknown>): Promise<Error> {
    const error = await promise.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error, 'expected the call to fail').toBeInstanceOf(Error);
    this.items.push(error);
    return error as Error;
  }

  /** Every item and log line, as the deepest inspection shows them. */
  text(): string {
    return [...this.items.map((item) => `${deep(item)}\n${json(item)}`), this.logger.text()].join('\n');
  }

  /** Fails when `secret` (or its URL encoding) appears anywhere in the evidence. */
  expectNoSecret(secret: string): void {
    const text = this.text();
    expect(text.length, 'no evidence was collected').toBeGreaterThan(0);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(encodeURIComponent(secret));
  }
}

function deep(value: unknown): string {
  return inspect(value, { depth: 20, showHidden: true, getters: true });
}

function json(value: unknown): string {
  try {
    return (
      JSON.stringify(value, (_key, inner: unknown) =>
        inner instanceof Error
          ? { ...inner, name: inner.name, message: inner.message, stack: inner.stack, cause: inner.cause }
          : inner,
      ) ?? ''
    );
  } catch {
    return '';
  }
}
