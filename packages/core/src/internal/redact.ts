import { isTidingsError } from '../errors';

/**
 * Credential redaction: what every adapter and the bus apply to a message, a log field or a
 * health report before it leaves the process, so that no password, token or key is ever printed.
 *
 * @module
 */

/** What a redacted secret is replaced with. */
export const REDACTED = '***';

// `scheme://userinfo@`: the user info of a URL (user:password, or a bare token as NATS and Redis
// URLs allow) is replaced; the scheme, host and path stay, so the message still says where.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*)@/gi;

/**
 * Removes the credentials of every URL in `text`: `nats://app:s3cret@host:4222` becomes
 * `nats://app:***@host:4222`, `redis://:s3cret@host` becomes `redis://:***@host`, a bare
 * token (`nats://s3cret@host`) becomes `nats://***@host`, and a server address without a scheme
 * (`app:s3cret@host:4222`) becomes `app:***@host:4222`.
 *
 * @example
 * ```ts
 * redactUrls('cannot connect to amqp://guest:guest@mq:5672'); // 'cannot connect to amqp://guest:***@mq:5672'
 * ```
 */
export function redactUrls(text: string): string {
  if (!text.includes('@')) return text;
  const withScheme = text.includes('://')
    ? text.replace(URL_USERINFO, (_, scheme: string, userinfo: string) => {
        const colon = userinfo.indexOf(':');
        return colon < 0 ? `${scheme}${REDACTED}@` : `${scheme}${userinfo.slice(0, colon)}:${REDACTED}@`;
      })
    : text;
  // Server addresses written without a scheme, as several clients take them: `app:s3cret@host:4222`.
  return withScheme.replace(
    BARE_USERINFO,
    (_, before: string, user: string, _password: string, host: string) =>
      `${before}${user}:${REDACTED}@${host}`,
  );
}

// `user:password@host` with no scheme before it, at the start of the text or after a separator.
const BARE_USERINFO =
  /(^|[\s(,;"'=<[])([^\s:/@(),;"'<>[\]]+):([^\s/@(),;"'<>[\]]+)@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?=[:/\s,;)"'\]]|$)/g;

/** Removes the credentials of one URL (see {@link redactUrls}). */
export function redactUrl(url: string): string {
  return redactUrls(url);
}

/** Properties of an error that are copied to its redacted copy; any other may hold a secret. */
const SAFE_PROPERTIES = [
  'code',
  'errno',
  'syscall',
  'address',
  'port',
  'type',
  'status',
  'statusCode',
] as const;

/** Deepest `cause` chain a redacted copy follows. */
const MAX_CAUSE_DEPTH = 5;

/**
 * Removes known secrets (passwords, tokens, keys) and URL credentials from text and errors.
 * Adapters make one from their options and pass every message, error and health field through it.
 *
 * @example
 * ```ts
 * const redact = createRedactor([options.password, options.token]);
 * throw new ConnectionError(redact.text(`cannot connect to ${url}`), { cause: redact.error(cause) });
 * ```
 */
export interface Redactor {
  /** `text` with every secret and URL credential replaced by `***`. */
  text(text: string): string;
  /**
   * A redacted copy of a thrown value: an `Error` with the same name, message and stack (secrets
   * replaced), the harmless properties (`code`, `errno`, `syscall`, `address`, `port`), a
   * Tidings error's own fields (redacted), and a redacted copy of its `cause` chain. Other
   * properties are left behind: clients attach the command that failed (an `AUTH` with its
   * password) or their whole options to errors. The copy keeps the original's prototype, so
   * `instanceof` still holds.
   */
  error(value: unknown): Error;
  /**
   * Adds a secret learned after the redactor was made (an OAuth token a provider handed out);
   * from then on it is redacted like the others.
   */
  learn(secret: string | undefined): void;
}

/**
 * Builds a {@link Redactor} for the given secrets; `undefined` and empty ones are ignored, and
 * URL credentials are always redacted.
 */
export function createRedactor(secrets: Iterable<string | undefined> = []): Redactor {
  // Longest first, so that a secret containing another is replaced whole.
  let known: string[] = [];
  const learn = (secret: string | undefined): void => {
    if (typeof secret !== 'string' || secret.length === 0 || known.includes(secret)) return;
    known = [...known, secret].sort((a, b) => b.length - a.length);
  };
  for (const secret of secrets) learn(secret);
  const text = (input: string): string => {
    let out = redactUrls(input);
    for (const secret of known) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    return out;
  };
  const error = (value: unknown, depth = 0): Error => {
    if (!(value instanceof Error)) {
      const copy = new Error(text(typeof value === 'string' ? value : describe(value)));
      copy.name = 'Error';
      return copy;
    }
    const copy = Object.create(Object.getPrototypeOf(value) as object) as Error;
    Object.defineProperty(copy, 'name', {
      value: text(String(value.name)),
      writable: true,
      configurable: true,
    });
    Object.defineProperty(copy, 'message', {
      value: text(String(value.message)),
      writable: true,
      configurable: true,
    });
    if (typeof value.stack === 'string') {
      Object.defineProperty(copy, 'stack', { value: text(value.stack), writable: true, configurable: true });
    }
    const source = value as unknown as Record<string, unknown>;
    for (const property of SAFE_PROPERTIES) {
      const field = source[property];
      if (typeof field === 'string' || typeof field === 'number' || typeof field === 'boolean') {
        Object.defineProperty(copy, property, {
          value: typeof field === 'string' ? text(field) : field,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
    }
    // A Tidings error's own fields (`field`, `topic`, `size`, `limit`, `eventType`, `issues`...)
    // are written by Tidings from what it was given: kept, with their text redacted too.
    if (isTidingsError(value)) {
      for (const property of Object.keys(value)) {
        if (property === 'cause' || Object.hasOwn(copy, property)) continue;
        const field = source[property];
        const kept =
          typeof field === 'string'
            ? text(field)
            : typeof field === 'number' || typeof field === 'boolean'
              ? field
              : jsonCopy(field, text);
        if (kept !== undefined) {
          Object.defineProperty(copy, property, {
            value: kept,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
      }
    }
    if (value.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
      Object.defineProperty(copy, 'cause', {
        value: error(value.cause, depth + 1),
        writable: true,
        configurable: true,
      });
    }
    if (value instanceof AggregateError) {
      Object.defineProperty(copy, 'errors', {
        value: value.errors.slice(0, 10).map((inner: unknown) => error(inner, depth + 1)),
        writable: true,
        configurable: true,
      });
    }
    return copy;
  };
  return { text, error: (value) => error(value), learn };
}

/** A redacted copy of plain data (arrays and objects of strings and numbers), or undefined. */
function jsonCopy(value: unknown, text: (input: string) => string): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  try {
    return JSON.parse(text(JSON.stringify(value))) as unknown;
  } catch {
    return undefined;
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The redactor that knows no secrets of its own: URL credentials only. */
export const urlRedactor: Redactor = createRedactor();
