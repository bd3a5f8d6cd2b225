import { REDACTED, type Redactor } from '@tidings/core/adapter';
import type { KafkaConfig } from 'kafkajs';

/**
 * @internal The secrets kafkajs is given: SASL credentials whatever the mechanism, and the TLS
 * passphrase and private keys.
 */
export function configSecrets(config: Partial<KafkaConfig>): string[] {
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
  }
  const ssl = config.ssl;
  if (ssl !== undefined && typeof ssl === 'object') {
    add(ssl.passphrase);
    add(ssl.key);
    add(ssl.pfx);
  }
  return found;
}

/**
 * @internal The SASL settings with an OAuth bearer provider wrapped so that each token it returns is
 * learned by `redactor` before kafkajs sends it; other mechanisms are returned as they are.
 */
export function watchedSasl(
  sasl: NonNullable<KafkaConfig['sasl']>,
  redactor: Redactor,
): NonNullable<KafkaConfig['sasl']> {
  if (sasl === null || typeof sasl !== 'object') return sasl;
  if (sasl.mechanism !== 'oauthbearer' || !('oauthBearerProvider' in sasl)) return sasl;
  const provider = sasl.oauthBearerProvider;
  if (typeof provider !== 'function') return sasl;
  return {
    ...sasl,
    oauthBearerProvider: async () => {
      const token = await provider();
      if (typeof token?.value === 'string') redactor.learn(token.value);
      return token;
    },
  };
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
