// The bus's log lines through Nest's own Logger, so that they appear with the application's.
import { Logger as NestLogger } from '@nestjs/common';
import type { LogFields, Logger } from '@tidings/core';

/**
 * A Tidings {@link Logger} that writes through Nest's `Logger` (and so through whatever logger the
 * application gave Nest, `app.useLogger(...)`), with the fields after the message. The default
 * logger of `TidingsModule`.
 *
 * @example
 * ```ts
 * import { createNestLogger, TidingsModule } from '@tidings/nestjs';
 *
 * export const BusModule = TidingsModule.forRoot({ source: 'order-service', logger: createNestLogger('Bus') });
 * ```
 */
export function createNestLogger(context = 'Tidings'): Logger {
  const logger = new NestLogger(context);
  return {
    debug: (fields, message) => logger.debug(line(message, fields)),
    info: (fields, message) => logger.log(line(message, fields)),
    warn: (fields, message) => logger.warn(line(message, fields)),
    error: (fields, message) => {
      const { err } = fields;
      // Nest prints a stack given as the second argument under the message.
      if (err instanceof Error && err.stack !== undefined) logger.error(line(message, fields), err.stack);
      else logger.error(line(message, fields));
    },
  };
}

function line(message: string, fields: LogFields): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${name}=${format(value)}`);
  }
  return parts.length === 0 ? message : `${message} ${parts.join(' ')}`;
}

function format(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(`${value.name}: ${value.message}`);
  if (typeof value === 'string') return /^[\w.:/@-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return '[unserializable]';
    }
  }
  return String(value);
}
