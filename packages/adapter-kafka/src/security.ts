import type { ConnectionOptions } from 'node:tls';
import { ConfigError, checkOptionNames, type OptionNames } from '@tidings/core/adapter';

/**
 * TLS settings of the connections to the brokers, as Node's `tls.connect` takes them: the CA
 * certificates to trust, the client certificate and key for mutual TLS, and the checks.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 *
 * const ssl: KafkaTlsSettings = {
 *   ca: readFileSync('/etc/kafka/ca.pem'),
 *   cert: readFileSync('/etc/kafka/client.pem'),
 *   key: readFileSync('/etc/kafka/client.key'),
 * };
 * ```
 */
export type KafkaTlsSettings = Readonly<
  Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'passphrase' | 'servername' | 'rejectUnauthorized'>
>;

/**
 * TLS for the broker connections: `true` to trust the system's CAs, an object of
 * {@link KafkaTlsSettings}, or `false` (the same as leaving it out) for plain TCP.
 *
 * @example
 * ```ts
 * createKafkaAdapter({ brokers: ['kafka-1:9093'], ssl: true });
 * createKafkaAdapter({ brokers: ['kafka-1:9093'], ssl: { ca: [readFileSync('ca.pem')], servername: 'kafka-1' } });
 * ```
 */
export type KafkaTlsOptions = boolean | KafkaTlsSettings;

/**
 * SASL with a user name and password: PLAIN (send it over TLS) or SCRAM.
 *
 * @example
 * ```ts
 * const sasl: KafkaSaslPasswordOptions = { mechanism: 'scram-sha-512', username: 'billing', password };
 * ```
 */
export interface KafkaSaslPasswordOptions {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

/**
 * Hands out an OAuth 2 bearer token (the JWT itself) for SASL OAUTHBEARER. It is called for each
 * new broker connection, so it should cache the token and fetch a new one before it expires.
 *
 * @example
 * ```ts
 * const token: KafkaOAuthTokenProvider = async () => (await idp.clientCredentials()).access_token;
 * ```
 */
export type KafkaOAuthTokenProvider = () => string | Promise<string>;

/**
 * SASL OAUTHBEARER with a token from your identity provider.
 *
 * @example
 * ```ts
 * const sasl: KafkaSaslOAuthBearerOptions = { mechanism: 'oauthbearer', token: () => tokens.current() };
 * ```
 */
export interface KafkaSaslOAuthBearerOptions {
  readonly mechanism: 'oauthbearer';
  /** The token provider. Tokens it returns are redacted from everything the adapter says. */
  readonly token: KafkaOAuthTokenProvider;
}

/**
 * SASL authentication, by `mechanism`. Mechanisms the adapter has no option for go through the
 * client's escape hatch: kafkajs's `aws` through `kafkajs`, @platformatic/kafka's `GSSAPI` through
 * `platformatic`.
 *
 * @example
 * ```ts
 * createKafkaAdapter({
 *   brokers: ['kafka-1:9093'],
 *   ssl: true,
 *   sasl: { mechanism: 'scram-sha-256', username: 'billing', password: process.env.KAFKA_PASSWORD ?? '' },
 * });
 * ```
 */
export type KafkaSaslOptions = KafkaSaslPasswordOptions | KafkaSaslOAuthBearerOptions;

const TLS_NAMES: OptionNames<KafkaTlsSettings> = {
  ca: true,
  cert: true,
  key: true,
  passphrase: true,
  servername: true,
  rejectUnauthorized: true,
};
const PASSWORD_NAMES: OptionNames<KafkaSaslPasswordOptions> = {
  mechanism: true,
  username: true,
  password: true,
};
const OAUTH_NAMES: OptionNames<KafkaSaslOAuthBearerOptions> = { mechanism: true, token: true };
const PASSWORD_MECHANISMS: readonly string[] = ['plain', 'scram-sha-256', 'scram-sha-512'];
const MECHANISMS: readonly KafkaSaslOptions['mechanism'][] = [
  'plain',
  'scram-sha-256',
  'scram-sha-512',
  'oauthbearer',
];

/**
 * @internal SASL as the adapter resolved it, for each client to translate: a password mechanism with
 * its credentials, or OAUTHBEARER with a provider that checks each token (and lets the redactor
 * learn it) before a client sends it.
 */
export type ResolvedSasl =
  | KafkaSaslPasswordOptions
  | { readonly mechanism: 'oauthbearer'; readonly token: () => Promise<string> };

/**
 * @internal Checks `ssl` and returns the TLS settings for `tls.connect`: `{}` (Node's defaults, the
 * system's CAs) for `true`, `undefined` for no TLS.
 */
export function resolveTls(ssl: KafkaTlsOptions | undefined): KafkaTlsSettings | undefined {
  if (ssl === undefined || ssl === false) return undefined;
  if (ssl === true) return {};
  if (ssl === null || typeof ssl !== 'object' || Array.isArray(ssl)) {
    throw new ConfigError('ssl', 'must be true, false or an object of TLS settings (ca, cert, key...)');
  }
  checkOptionNames(ssl, TLS_NAMES, 'ssl');
  for (const name of ['ca', 'cert', 'key'] as const) pemMaterial(`ssl.${name}`, ssl[name]);
  for (const name of ['passphrase', 'servername'] as const) {
    const value = ssl[name];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
      throw new ConfigError(`ssl.${name}`, 'must be a non-empty string');
    }
  }
  if (ssl.rejectUnauthorized !== undefined && typeof ssl.rejectUnauthorized !== 'boolean') {
    throw new ConfigError('ssl.rejectUnauthorized', 'must be a boolean');
  }
  // A copy of the settings given, nothing else: an empty object is TLS with Node's defaults.
  const settings: Record<string, unknown> = {};
  for (const name of Object.keys(TLS_NAMES) as (keyof KafkaTlsSettings)[]) {
    if (ssl[name] !== undefined) settings[name] = ssl[name];
  }
  return settings as KafkaTlsSettings;
}

/** A PEM as tls.connect takes it: a string, a Buffer, a list of them, or `{ pem, passphrase }` keys. */
function pemMaterial(field: string, value: unknown): void {
  if (value === undefined) return;
  const one = (item: unknown): boolean =>
    (typeof item === 'string' && item.length > 0) ||
    Buffer.isBuffer(item) ||
    (field === 'ssl.key' &&
      item !== null &&
      typeof item === 'object' &&
      (typeof (item as { pem?: unknown }).pem === 'string' ||
        Buffer.isBuffer((item as { pem?: unknown }).pem)));
  if (Array.isArray(value) ? value.length > 0 && value.every(one) : one(value)) return;
  throw new ConfigError(field, 'must be PEM text, a Buffer, or a non-empty list of them');
}

/**
 * @internal Checks `sasl`; `undefined` for no SASL. Each bearer token is shown to `learn` before it
 * is handed to the client, so that the redactor hides it from then on.
 */
export function resolveSasl(
  sasl: KafkaSaslOptions | undefined,
  learn: (secret: string) => void = () => undefined,
): ResolvedSasl | undefined {
  if (sasl === undefined) return undefined;
  if (sasl === null || typeof sasl !== 'object' || Array.isArray(sasl)) {
    throw new ConfigError('sasl', `must be an object with a mechanism: ${MECHANISMS.join(', ')}`);
  }
  const mechanism = (sasl as { mechanism?: unknown }).mechanism;
  if (typeof mechanism !== 'string' || !MECHANISMS.includes(mechanism as KafkaSaslOptions['mechanism'])) {
    const hint =
      typeof mechanism === 'string' && MECHANISMS.includes(mechanism.toLowerCase() as never)
        ? `; write it in lower case, "${mechanism.toLowerCase()}"`
        : mechanism === 'aws'
          ? '; AWS IAM is a kafkajs mechanism: pass it as kafkajs: { sasl: { mechanism: "aws", ... } } with client: "kafkajs"'
          : mechanism === 'gssapi' || mechanism === 'GSSAPI'
            ? '; Kerberos is a @platformatic/kafka mechanism: pass it as platformatic: { sasl: { mechanism: "GSSAPI", ... } }'
            : '';
    throw new ConfigError(
      'sasl.mechanism',
      `must be one of ${MECHANISMS.join(', ')}, got ${JSON.stringify(mechanism) ?? 'nothing'}${hint}`,
    );
  }
  if (PASSWORD_MECHANISMS.includes(mechanism)) {
    const { username, password } = sasl as KafkaSaslPasswordOptions;
    checkOptionNames(sasl, PASSWORD_NAMES, 'sasl');
    if (typeof username !== 'string' || username.length === 0) {
      throw new ConfigError('sasl.username', 'must be a non-empty string');
    }
    // Never the value itself in the message: it is a secret.
    if (typeof password !== 'string' || password.length === 0) {
      throw new ConfigError('sasl.password', `must be a non-empty string, got ${describe(password)}`);
    }
    return { mechanism: mechanism as KafkaSaslPasswordOptions['mechanism'], username, password };
  }
  checkOptionNames(sasl, OAUTH_NAMES, 'sasl');
  const { token } = sasl as KafkaSaslOAuthBearerOptions;
  if (typeof token !== 'function') {
    throw new ConfigError(
      'sasl.token',
      'must be a function that returns the bearer token (or a promise of it)',
    );
  }
  return {
    mechanism: 'oauthbearer',
    token: async () => {
      const value = await token();
      if (typeof value !== 'string' || value.length === 0) {
        throw new ConfigError('sasl.token', `must return a non-empty string, returned ${describe(value)}`);
      }
      learn(value);
      return value;
    },
  };
}

/** What a value is, without showing it. */
function describe(value: unknown): string {
  if (value === undefined || value === null || value === '') return JSON.stringify(value) ?? 'undefined';
  return `a ${typeof value}`;
}
