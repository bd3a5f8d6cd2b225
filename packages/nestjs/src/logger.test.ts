import { ConsoleLogger, Logger, type LoggerService } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { createNestLogger } from './logger';

describe('createNestLogger', () => {
  afterEach(() => {
    Logger.overrideLogger(new ConsoleLogger());
  });

  it('writes through the application logger Nest was given, the fields after the message', () => {
    const lines: string[] = [];
    const capture: LoggerService = {
      log: (message: string, context?: string) => lines.push(`log [${context}] ${message}`),
      warn: (message: string, context?: string) => lines.push(`warn [${context}] ${message}`),
      error: (message: string, stack?: string, context?: string) =>
        lines.push(`error [${context}] ${message} ${stack === undefined ? 'no stack' : 'with stack'}`),
      debug: (message: string, context?: string) => lines.push(`debug [${context}] ${message}`),
    };
    Logger.overrideLogger(capture);
    const logger = createNestLogger('Bus');
    logger.info({ adapter: 'nats', subscriptions: 2 }, 'bus started');
    logger.warn({ group: 'email', attempt: 2, err: new Error('mailer down'), note: 'two words' }, 'retrying');
    logger.error({ err: new TypeError('boom') }, 'handler failed');
    logger.debug({ skipped: undefined }, 'quiet');
    expect(lines).toEqual([
      'log [Bus] bus started adapter=nats subscriptions=2',
      'warn [Bus] retrying group=email attempt=2 err="Error: mailer down" note="two words"',
      'error [Bus] handler failed err="TypeError: boom" with stack',
      'debug [Bus] quiet',
    ]);
  });
});
