import { ConfigError, createRedactor, type Redactor, redactUrl } from '@tidings/core/adapter';
import type { ConnectionOptions } from 'nats';

/** The connection settings with the credentials of the server URLs taken out, and how to hide them. */
export interface ResolvedCredentials {
  /** The server URLs without their user info. */
  readonly servers: string | string[];
  /** The nats.js options, with the URL's user and password (or token) added where none was given. */
  readonly connectionOptions: Omit<ConnectionOptions, 'servers'>;
  /** Removes every known secret (passwords, tokens, seeds) and URL credentials from text and errors. */
  readonly redactor: Redactor;
  /** The servers as messages name them: credentials removed. */
  readonly where: string;
}

// `scheme://` (optional: nats.js takes `host:port` too), then the user info before an `@`.
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)?([^@/?#]*)@(.*)$/i;

type UrlCredentials =
  | { readonly user: string; readonly pass: string; readonly token?: undefined }
  | { readonly user?: undefined; readonly pass?: undefined; readonly token: string };

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function split(server: string): { url: string; credentials: UrlCredentials | undefined } {
  const match = USERINFO.exec(server.trim());
  if (match === null) return { url: server, credentials: undefined };
  const [, scheme = '', userinfo = '', rest = ''] = match;
  const url = `${scheme}${rest}`;
  if (userinfo === '') return { url, credentials: undefined };
  const colon = userinfo.indexOf(':');
  // `user:password@`, or a bare token (`token@`), as the NATS URL format allows.
  const credentials =
    colon < 0
      ? { token: decode(userinfo) }
      : { user: decode(userinfo.slice(0, colon)), pass: decode(userinfo.slice(colon + 1)) };
  return { url, credentials };
}

function same(a: UrlCredentials, b: UrlCredentials): boolean {
  return a.user === b.user && a.pass === b.pass && a.token === b.token;
}

/** A server list for messages: each URL without its credentials, scheme-less ones included. */
export function describeServers(servers: string | readonly string[]): string {
  const list = typeof servers === 'string' ? [servers] : servers;
  return list
    .map((server) => {
      const { url, credentials } = split(server);
      if (credentials === undefined) return redactUrl(server);
      return credentials.token === undefined
        ? url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?/i, (scheme) => `${scheme}${credentials.user}:***@`)
        : url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?/i, (scheme) => `${scheme}***@`);
    })
    .join(', ');
}

/**
 * nats.js ignores credentials written in a server URL (`nats://user:password@host:4222`,
 * `nats://token@host:4222`), which other NATS clients honour: the connection then fails with an
 * authorization violation that does not say why. The adapter takes them out of the URLs and hands
 * them to nats.js as `user`/`pass` or `token`, unless `connectionOptions` authenticates already.
 * All URLs that carry credentials must carry the same (nats.js has one set per connection).
 *
 * Every secret it knows of (URL passwords and tokens, `pass`, `token`, `nkey`, `userJWT`) goes into
 * the redactor that the adapter passes every message and error through.
 */
export function resolveCredentials(
  servers: string | string[],
  connectionOptions: Omit<ConnectionOptions, 'servers'>,
): ResolvedCredentials {
  const list = typeof servers === 'string' ? [servers] : servers;
  const urls: string[] = [];
  let found: UrlCredentials | undefined;
  const secrets: (string | undefined)[] = [];
  for (const server of list) {
    if (typeof server !== 'string') {
      throw new ConfigError('servers', `must be URL strings, got ${typeof server}`);
    }
    const { url, credentials } = split(server);
    urls.push(url);
    if (credentials === undefined) continue;
    secrets.push(credentials.pass, credentials.token);
    if (found !== undefined && !same(found, credentials)) {
      throw new ConfigError(
        'servers',
        `the server URLs carry different credentials (${describeServers(list)}); nats.js uses one set per connection: give it in connectionOptions`,
      );
    }
    found = credentials;
  }
  const given = connectionOptions as {
    user?: unknown;
    pass?: unknown;
    token?: unknown;
    nkey?: unknown;
    userJWT?: unknown;
    authenticator?: unknown;
  };
  for (const secret of [given.pass, given.token, given.nkey, given.userJWT]) {
    if (typeof secret === 'string') secrets.push(secret);
  }
  const authenticates =
    given.user !== undefined ||
    given.pass !== undefined ||
    given.token !== undefined ||
    given.authenticator !== undefined;
  const options =
    found === undefined || authenticates
      ? connectionOptions
      : {
          ...connectionOptions,
          ...(found.token === undefined ? { user: found.user, pass: found.pass } : { token: found.token }),
        };
  return {
    servers: typeof servers === 'string' ? urls[0]! : urls,
    connectionOptions: options,
    redactor: createRedactor(secrets),
    where: describeServers(list),
  };
}
