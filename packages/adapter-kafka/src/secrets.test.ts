import { createRedactor } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { configSecrets, redactBroker, watchedSasl } from './secrets';

describe('kafka secrets', () => {
  it('finds the secrets of every SASL mechanism and of TLS', () => {
    expect(configSecrets({ sasl: { mechanism: 'plain', username: 'app', password: 'p1' } })).toEqual(['p1']);
    expect(
      configSecrets({
        sasl: {
          mechanism: 'aws',
          authorizationIdentity: 'id',
          accessKeyId: 'AKIA',
          secretAccessKey: 'sak',
          sessionToken: 'st',
        },
      }).sort(),
    ).toEqual(['AKIA', 'sak', 'st']);
    expect(
      configSecrets({
        ssl: { passphrase: 'pp', key: [Buffer.from('KEY'), { pem: 'PEM', passphrase: 'pp2' }] },
      }),
    ).toEqual(['pp', 'KEY', 'PEM', 'pp2']);
    expect(configSecrets({ ssl: true })).toEqual([]);
  });

  it('learns each bearer token the provider hands out', async () => {
    const redactor = createRedactor();
    let n = 0;
    const sasl = watchedSasl(
      { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: `token-${++n}` }) },
      redactor,
    ) as { oauthBearerProvider: () => Promise<{ value: string }> };
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'token-1' });
    await sasl.oauthBearerProvider();
    expect(redactor.text('sent token-1 then token-2')).toBe('sent *** then ***');
  });

  it('hides the credentials of a broker given as a URL', () => {
    expect(redactBroker('kafka://app:s3cret@host:9092')).toBe('kafka://***@host:9092');
    expect(redactBroker('app:s3cret@host:9092')).toBe('***@host:9092');
    expect(redactBroker('host:9092')).toBe('host:9092');
  });
});
