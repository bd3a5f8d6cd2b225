import { configRefusal } from '@tidings/conformance';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type KafkaAdapterOptions, resolveOptions } from './options';
import { type KafkaSaslOptions, kafkajsSasl, kafkajsTls } from './security';

const brokers = ['127.0.0.1:9092'];

/** What kafkajs is given for these options. */
function client(options: Partial<KafkaAdapterOptions>) {
  return resolveOptions({ brokers, ...options }).clientConfig;
}

describe('kafka TLS options', () => {
  it('maps true to the system CAs, and false or nothing to plain TCP', () => {
    expect(client({ ssl: true }).ssl).toBe(true);
    expect(client({ ssl: false })).not.toHaveProperty('ssl');
    expect(client({})).not.toHaveProperty('ssl');
  });

  it('passes the TLS settings given on to tls.connect, and nothing else', () => {
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----');
    const settings = {
      ca: [ca],
      cert: 'CERT',
      key: [{ pem: 'KEY', passphrase: 'k' }],
      passphrase: 'pp',
      servername: 'kafka-1',
      rejectUnauthorized: false,
    };
    expect(client({ ssl: settings }).ssl).toEqual(settings);
    expect(client({ ssl: { servername: 'kafka-1', ca: undefined } }).ssl).toEqual({ servername: 'kafka-1' });
    // An empty object is TLS with Node's defaults, as kafkajs reads it.
    expect(client({ ssl: {} }).ssl).toEqual({});
  });

  it.each<[string, unknown]>([
    ['ssl', 'yes'],
    ['ssl', ['ca.pem']],
    ['ssl.ca', { ca: 42 }],
    ['ssl.ca', { ca: [] }],
    ['ssl.cert', { cert: [Buffer.from('x'), 1] }],
    ['ssl.key', { key: '' }],
    ['ssl.passphrase', { passphrase: 7 }],
    ['ssl.servername', { servername: '' }],
    ['ssl.rejectUnauthorized', { rejectUnauthorized: 'false' }],
  ])('names %s when it is wrong (%j)', (field, ssl) => {
    expect(configRefusal(() => kafkajsTls(ssl as never))).toMatch(new RegExp(`^${field}: `));
  });
});

describe('kafka SASL options', () => {
  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)(
    'maps %s with its user and password',
    (mechanism) => {
      expect(client({ sasl: { mechanism, username: 'app', password: 'pw' } }).sasl).toEqual({
        mechanism,
        username: 'app',
        password: 'pw',
      });
    },
  );

  it('maps oauthbearer onto a kafkajs token provider, and redacts every token it hands out', async () => {
    let n = 0;
    const resolved = resolveOptions({
      brokers,
      sasl: { mechanism: 'oauthbearer', token: async () => `jwt-${++n}` },
    });
    const sasl = resolved.clientConfig.sasl as {
      mechanism: string;
      oauthBearerProvider: () => Promise<{ value: string }>;
    };
    expect(sasl.mechanism).toBe('oauthbearer');
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'jwt-1' });
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'jwt-2' });
    expect(resolved.redactor.text('sent jwt-1, then jwt-2')).toBe('sent ***, then ***');
  });

  it('takes a token provider that answers at once, and refuses an empty token when it is asked', async () => {
    const sync = kafkajsSasl({ mechanism: 'oauthbearer', token: () => 'jwt' }) as {
      oauthBearerProvider: () => Promise<{ value: string }>;
    };
    expect(await sync.oauthBearerProvider()).toEqual({ value: 'jwt' });
    const empty = kafkajsSasl({ mechanism: 'oauthbearer', token: () => '' }) as {
      oauthBearerProvider: () => Promise<unknown>;
    };
    await expect(empty.oauthBearerProvider()).rejects.toMatchObject({ code: 'CONFIG', field: 'sasl.token' });
  });

  it('redacts the password from everything the adapter says', () => {
    const { redactor } = resolveOptions({
      brokers,
      sasl: { mechanism: 'scram-sha-512', username: 'app', password: 'S3cret-pw' },
    });
    expect(redactor.text('auth failed for S3cret-pw')).toBe('auth failed for ***');
  });

  it.each<[string, unknown, RegExp]>([
    ['sasl', 'plain', /must be an object/],
    ['sasl.mechanism', { username: 'a', password: 'b' }, /got nothing/],
    ['sasl.mechanism', { mechanism: 'PLAIN', username: 'a', password: 'b' }, /lower case, "plain"/],
    ['sasl.mechanism', { mechanism: 'aws', accessKeyId: 'x' }, /kafkajs: \{ sasl:/],
    ['sasl.mechanism', { mechanism: 'gssapi' }, /one of plain, scram-sha-256, scram-sha-512, oauthbearer/],
    ['sasl.username', { mechanism: 'plain', password: 'b' }, /non-empty string/],
    ['sasl.password', { mechanism: 'scram-sha-256', username: 'a', password: '' }, /got ""/],
    ['sasl.password', { mechanism: 'plain', username: 'a', password: 12345 }, /got a number/],
    ['sasl.token', { mechanism: 'oauthbearer', token: 'jwt' }, /must be a function/],
    [
      'sasl.oauthBearerProvider',
      { mechanism: 'oauthbearer', oauthBearerProvider: () => 'x' },
      /unknown option/,
    ],
    ['sasl.token', { mechanism: 'plain', username: 'a', password: 'b', token: () => 'x' }, /unknown option/],
  ])('names %s when it is wrong', (field, sasl, message) => {
    const refusal = configRefusal(() => resolveOptions({ brokers, sasl: sasl as KafkaSaslOptions }));
    expect(refusal.startsWith(`${field}: `)).toBe(true);
    expect(refusal).toMatch(message);
  });

  it('never repeats a refused password in its error', () => {
    const refusal = configRefusal(() =>
      resolveOptions({ brokers, sasl: { mechanism: 'plain', username: '', password: 'Hunter2-secret' } }),
    );
    expect(refusal).toMatch(/^sasl.username: /);
    expect(refusal).not.toContain('Hunter2-secret');
  });

  it('lets the kafkajs settings win, for what only kafkajs has (AWS IAM), and redacts their secrets', () => {
    const resolved = resolveOptions({
      brokers,
      sasl: { mechanism: 'plain', username: 'app', password: 'pw' },
      kafkajs: {
        sasl: {
          mechanism: 'aws',
          authorizationIdentity: 'id',
          accessKeyId: 'AKIA1',
          secretAccessKey: 'sak-1',
        },
        retry: { retries: 2 },
      },
    });
    expect(resolved.clientConfig).toMatchObject({ sasl: { mechanism: 'aws' }, retry: { retries: 2 } });
    expect(resolved.redactor.text('AKIA1 sak-1')).toBe('*** ***');
  });

  it('is a union on mechanism: the fields follow it', () => {
    expectTypeOf<{ mechanism: 'plain'; username: string; password: string }>().toExtend<KafkaSaslOptions>();
    expectTypeOf<{ mechanism: 'oauthbearer'; token: () => string }>().toExtend<KafkaSaslOptions>();
    expectTypeOf<{
      mechanism: 'oauthbearer';
      username: string;
      password: string;
    }>().not.toExtend<KafkaSaslOptions>();
    expectTypeOf<{ mechanism: 'aws'; accessKeyId: string }>().not.toExtend<KafkaSaslOptions>();
  });
});
