import { expectTypeOf, test } from 'vitest';
import type { Logger } from './logger';

// The overloads of pino's log methods (pino/pino.d.ts `LogFn`), written out so that core's type
// tests need no pino install: a pino logger must be assignable to Logger as it is.
interface PinoLogFn {
  <T extends object>(obj: T, msg?: string, ...args: unknown[]): void;
  (obj: unknown, msg?: string, ...args: unknown[]): void;
  (msg: string, ...args: unknown[]): void;
}
interface PinoLike {
  level: string;
  fatal: PinoLogFn;
  error: PinoLogFn;
  warn: PinoLogFn;
  info: PinoLogFn;
  debug: PinoLogFn;
  trace: PinoLogFn;
  child(bindings: Record<string, unknown>): PinoLike;
}

test('pino and console fit the Logger interface as they are', () => {
  expectTypeOf<PinoLike>().toExtend<Logger>();
  expectTypeOf<Console>().toExtend<Logger>();
  expectTypeOf<{ info(message: string): void }>().not.toExtend<Logger>();
});
