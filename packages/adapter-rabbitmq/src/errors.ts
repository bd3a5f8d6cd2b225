/**
 * What RabbitMQ's replies mean to the adapter (a refusal that would not change, a refused login, a
 * queue declared with other settings), and the secrets of its settings, which the kit's redactor
 * keeps out of everything it says.
 *
 * @module
 */
import {
  ConfigError,
  ConnectionError,
  createRedactor,
  type Redactor,
  TidingsError,
} from '@tidings/core/adapter';
import type { AmqpAddress, ResolvedOptions } from './options';

/** AMQP reply codes the adapter reacts to. */
export const REPLY = {
  accessRefused: 403,
  notFound: 404,
  preconditionFailed: 406,
  frameError: 501,
  syntaxError: 502,
} as const;

/**
 * Reply codes that say the broker will refuse the same publication again: not allowed, a
 * precondition such as `max_message_size`, a malformed frame. Retrying cannot help.
 */
const PERMANENT_REPLIES: ReadonlySet<number> = new Set([
  REPLY.accessRefused,
  REPLY.preconditionFailed,
  REPLY.frameError,
  REPLY.syntaxError,
]);

/** The AMQP reply code of an amqplib error, when it has one. */
export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Whether a failed publication would fail the same way again: too large (checked by the adapter,
 * or refused by the broker), not encodable by amqplib, not allowed. Looks through the `cause`
 * chain, where the adapter keeps the client's error.
 */
export function isPermanent(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    // Too large for the broker, or for a destination the settings refuse (a dead-letter topic).
    if (code === 'MESSAGE_TOO_LARGE' || code === 'CONFIG') return true;
    if (typeof code === 'number' && PERMANENT_REPLIES.has(code)) return true;
    // amqplib throws these from `publish` when it cannot encode a frame.
    if (current instanceof RangeError || current instanceof TypeError) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Whether the broker refused a connection's credentials (user unknown, wrong password, no access to the vhost). */
export function isAccessRefused(error: unknown): boolean {
  if (replyCode(error) === REPLY.accessRefused) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /ACCESS[-_]REFUSED|NOT_ALLOWED|NOT-ALLOWED/.test(message);
}

/**
 * The secrets of the adapter's settings: the password of the URL (as written and decoded), of a
 * connection object, of explicit credentials, and a TLS passphrase. No error, log field or health
 * report the adapter produces may contain them.
 */
export function secretsOf(
  options: Pick<ResolvedOptions, 'urls' | 'socketOptions'> & Partial<Pick<ResolvedOptions, 'management'>>,
): string[] {
  const secrets: string[] = [];
  const { urls, socketOptions } = options;
  // Every node's: a cluster's nodes may be given with logins of their own.
  for (const url of urls) {
    if (typeof url === 'string') {
      try {
        const password = new URL(url).password;
        if (password !== '') {
          secrets.push(password);
          try {
            secrets.push(decodeURIComponent(password));
          } catch {
            // Not valid percent-encoding: amqplib sends it as written.
          }
        }
      } catch {
        // The options check refuses unparseable URLs.
      }
    } else {
      secrets.push(...passwordsOf(url), ...passwordsOf(url.credentials));
    }
  }
  const tls = socketOptions as { credentials?: unknown; passphrase?: unknown; key?: unknown };
  secrets.push(...passwordsOf(tls.credentials));
  if (typeof tls.passphrase === 'string') secrets.push(tls.passphrase);
  if (typeof tls.key === 'string') secrets.push(tls.key);
  // The management API's password, given in its own URL; `guest` is RabbitMQ's well-known default,
  // the login the adapter assumes when no URL names one, and no secret to cut out of every message.
  const management = options.management;
  if (management && management.password !== '' && management.password !== 'guest') {
    if (!secrets.includes(management.password)) secrets.push(management.password);
  }
  return secrets;
}

function passwordsOf(value: unknown): string[] {
  const password = (value as { password?: unknown } | null | undefined)?.password;
  return typeof password === 'string' && password !== '' ? [password] : [];
}

/** The redactor of an adapter: its own secrets, and the credentials of any URL. */
export function redactorOf(
  options: Pick<ResolvedOptions, 'urls' | 'socketOptions'> & Partial<Pick<ResolvedOptions, 'management'>>,
): Redactor {
  return createRedactor(secretsOf(options));
}

/** The nodes' addresses for messages, comma-separated, without their passwords. */
export function describeUrls(urls: readonly AmqpAddress[], redactor: Redactor): string {
  return urls.map((url) => describeUrl(url, redactor)).join(', ');
}

/** A node's address for messages: the URL without its password, or the host of a connection object. */
export function describeUrl(url: AmqpAddress, redactor: Redactor): string {
  if (typeof url !== 'string') {
    return `amqp://${String(url.hostname ?? 'localhost')}:${String(url.port ?? 5672)}/${String(url.vhost ?? '')}`;
  }
  // The redactor removes the URL's credentials, and the password wherever else it appears.
  return redactor.text(url);
}

/**
 * Converts an error met while declaring a subscription's queues into a Tidings error: a queue that
 * exists with other arguments (classic where quorum is asked, for instance) is a configuration
 * problem the user must solve; the rest are connection problems. Message and cause are redacted.
 */
export function declareError(error: unknown, what: string, redactor: Redactor): Error {
  const cause = redactor.error(error);
  const code = replyCode(error);
  if (code === REPLY.preconditionFailed) {
    return new ConfigError(
      'queueType',
      `RabbitMQ refused to declare ${what}: ${cause.message}. A queue or exchange of that name exists with other settings (another queue type, for example); delete it or choose another exchange name`,
      { cause },
    );
  }
  if (code === REPLY.accessRefused) {
    return new ConfigError('url', `RabbitMQ refused access while declaring ${what}: ${cause.message}`, {
      cause,
    });
  }
  // The adapter's own errors are redacted when they are made.
  if (error instanceof TidingsError) return error;
  return new ConnectionError(`could not declare ${what}: ${cause.message}`, { cause });
}
