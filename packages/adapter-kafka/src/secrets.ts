import { REDACTED, type Redactor } from '@tidings/core/adapter';

/**
 * @internal A client's own settings as far as secrets go: kafkajs's `KafkaConfig` and
 * @platformatic/kafka's `BaseOptions` both keep them under `sasl` and `ssl` (or `tls`).
 */
export interface ClientSecretSettings {
  readonly sasl?: unknown;
  readonly ssl?: unknown;
  readonly tls?: unknown;
}

/**
 * @internal The secrets a client is given: SASL credentials whatever the mechanism, and the TLS
 * passphrase and private keys.
 */
export function configSecrets(config: ClientSecretSettings): string[] {
  const found: string[] = [];
  const add = (value: unknown): void => {
    if (typeof value === 'string' && value.length > 0) found.push(value);
    else if (Buffer.isBuffer(value) && value.byteLength > 0) found.push(value.toString('utf8'));
    else if (Array.isArray(value)) for (const item of value) add(item);
    else if (value !== null && typeof value === 'object') {
      // `key: [{ pem, passphrase }]`, as tls.connect takes them.
      add((value as { pem?: unknown }).pem);
      add((value as { passphrase?: unknown }).passphrase);
      add((value as { buf?: unknown }).buf);
    }
  };
  const sasl = config.sasl as Record<string, unknown> | undefined;
  if (sasl !== undefined && sasl !== null && typeof sasl === 'object') {
    add(sasl.password);
    add(sasl.secretAccessKey);
    add(sasl.sessionToken);
    add(sasl.accessKeyId);
    add(sasl.token);
  }
  for (const tls of [config.ssl, config.tls] as Record<string, unknown>[]) {
    if (tls === undefined || tls === null || typeof tls !== 'object') continue;
    add(tls.passphrase);
    add(tls.key);
    add(tls.pfx);
  }
  return found;
}

/**
 * @internal A client's SASL settings with every credential provider wrapped so that what it returns
 * is learned by `redactor` before the client sends it: kafkajs's `oauthBearerProvider`, and
 * @platformatic/kafka's `password` and `token` when they are functions. Anything else is returned
 * as it is.
 */
export function watchedSasl<T>(sasl: T, redactor: Redactor): T {
  if (sasl === null || typeof sasl !== 'object') return sasl;
  const watched: Record<string, unknown> = { ...(sasl as Record<string, unknown>) };
  const learnString = (value: unknown): void => {
    if (typeof value === 'string') redactor.learn(value);
  };
  const provider = watched.oauthBearerProvider;
  if (typeof provider === 'function') {
    watched.oauthBearerProvider = async () => {
      const token = (await provider()) as { value?: unknown } | undefined;
      learnString(token?.value);
      return token;
    };
  }
  for (const name of ['password', 'token']) {
    const credential = watched[name];
    if (typeof credential !== 'function') continue;
    watched[name] = async () => {
      const value: unknown = await credential();
      learnString(value);
      return value;
    };
  }
  return watched as T;
}

/**
 * @internal A broker address as it may be shown: the user info of `user:password@host:port` (with
 * or without a scheme), pasted where only `host:port` belongs, is replaced.
 */
export function redactBroker(broker: unknown): string {
  const text = typeof broker === 'string' ? broker : String(broker);
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0] ?? '';
  return `${scheme}${REDACTED}${text.slice(at)}`;
}
