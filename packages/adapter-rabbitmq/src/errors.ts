import { ConfigError, ConnectionError, toError } from '@tidings/core/adapter';

/** AMQP reply codes the adapter reacts to. */
export const REPLY = {
  accessRefused: 403,
  notFound: 404,
  preconditionFailed: 406,
} as const;

/** The AMQP reply code of an amqplib error, when it has one. */
export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Converts an error met while declaring a subscription's queues into a Tidings error: a queue that
 * exists with other arguments (classic where quorum is asked, for instance) is a configuration
 * problem the user must solve; the rest are connection problems.
 */
export function declareError(error: unknown, what: string): Error {
  const cause = toError(error);
  if (replyCode(error) === REPLY.preconditionFailed) {
    return new ConfigError(
      'queueType',
      `RabbitMQ refused to declare ${what}: ${cause.message}. A queue or exchange of that name exists with other settings (another queue type, for example); delete it or choose another exchange name`,
      { cause },
    );
  }
  if (replyCode(error) === REPLY.accessRefused) {
    return new ConfigError('url', `RabbitMQ refused access while declaring ${what}: ${cause.message}`, {
      cause,
    });
  }
  return new ConnectionError(`could not declare ${what}: ${cause.message}`, { cause });
}

/** Removes the password from an AMQP URL before it goes into an error message. */
export function redactUrl(url: unknown): string {
  if (typeof url !== 'string') {
    const fields = (url ?? {}) as { hostname?: unknown; port?: unknown; vhost?: unknown };
    return `amqp://${String(fields.hostname ?? 'localhost')}:${String(fields.port ?? 5672)}/${String(fields.vhost ?? '')}`;
  }
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable AMQP URL)';
  }
}
