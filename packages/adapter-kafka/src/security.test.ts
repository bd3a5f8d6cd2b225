import { configRefusal } from '@tidings/conformance';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { kafkajsSecurity } from './client/kafkajs/client';
import { baseOptions } from './client/platformatic/client';
import { type KafkaAdapterOptions, resolveOptions } from './options';
import { type KafkaSaslOptions, resolveSasl, resolveTls } from './security';

const brokers = ['127.0.0.1:9092'];

/** What kafkajs is given for these options. */
function client(options: Partial<KafkaAdapterOptions>) {
  return kafkajsSecurity(resolveOptions({ brokers, ...options, client: 'kafkajs' }));
}

/** What every @platformatic/kafka client is given for these options. */
function platformatic(options: Partial<KafkaAdapterOptions>) {
  return baseOptions(resolveOptions({ brokers, ...options, client: 'platformatic' }));
}

describe('kafka TLS options', () => {
  it("maps true to Node's defaults (the system CAs), and false or nothing to plain TCP, on both clients", () => {
    expect(client({ ssl: true }).ssl).toEqual({});
    expect(client({ ssl: false })).not.toHaveProperty('ssl');
    expect(client({})).not.toHaveProperty('ssl');
    expect(platformatic({ ssl: true }).tls).toEqual({});
    expect(platformatic({ ssl: false })).not.toHaveProperty('tls');
    expect(platformatic({})).not.toHaveProperty('tls');
  });

  it('sends SNI with the host name of a named broker on @platformatic/kafka, as kafkajs does', () => {
    expect(platformatic({ ssl: true }).tlsServerName).toBeUndefined(); // 127.0.0.1: no SNI for an IP
    const named = baseOptions(
      resolveOptions({ brokers: ['kafka-1.example:9093'], ssl: true, client: 'platformatic' }),
    );
    expect(named.tlsServerName).toBe(true);
    const given = baseOptions(
      resolveOptions({
        brokers: ['kafka-1.example:9093'],
        ssl: { servername: 'kafka' },
        client: 'platformatic',
      }),
    );
    expect(given).toMatchObject({ tls: { servername: 'kafka' } });
    expect(given.tlsServerName).toBeUndefined();
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
    expect(platformatic({ ssl: settings }).tls).toEqual(settings);
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
    expect(configRefusal(() => resolveTls(ssl as never))).toMatch(new RegExp(`^${field}: `));
  });
});

describe('kafka SASL options', () => {
  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)(
    'maps %s with its user and password, on both clients',
    (mechanism) => {
      const sasl = { mechanism, username: 'app', password: 'pw' };
      expect(client({ sasl }).sasl).toEqual(sasl);
      expect(platformatic({ sasl }).sasl).toEqual({ ...sasl, mechanism: mechanism.toUpperCase() });
    },
  );

  it('maps oauthbearer onto a @platformatic/kafka token provider, and redacts every token it hands out', async () => {
    let n = 0;
    const resolved = resolveOptions({
      brokers,
      client: 'platformatic',
      sasl: { mechanism: 'oauthbearer', token: () => `jwt-${++n}` },
    });
    const sasl = baseOptions(resolved).sasl as { mechanism: string; token: () => Promise<string> };
    expect(sasl.mechanism).toBe('OAUTHBEARER');
    expect(await sasl.token()).toBe('jwt-1');
    expect(resolved.redactor.text('sent jwt-1')).toBe('sent ***');
  });

  it('maps oauthbearer onto a kafkajs token provider, and redacts every token it hands out', async () => {
    let n = 0;
    const resolved = resolveOptions({
      brokers,
      client: 'kafkajs',
      sasl: { mechanism: 'oauthbearer', token: async () => `jwt-${++n}` },
    });
    const sasl = kafkajsSecurity(resolved).sasl as {
      mechanism: string;
      oauthBearerProvider: () => Promise<{ value: string }>;
    };
    expect(sasl.mechanism).toBe('oauthbearer');
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'jwt-1' });
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'jwt-2' });
    expect(resolved.redactor.text('sent jwt-1, then jwt-2')).toBe('sent ***, then ***');
  });

  it('takes a token provider that answers at once, and refuses an empty token when it is asked', async () => {
    const sync = resolveSasl({ mechanism: 'oauthbearer', token: () => 'jwt' }) as {
      token: () => Promise<string>;
    };
    expect(await sync.token()).toBe('jwt');
    const empty = resolveSasl({ mechanism: 'oauthbearer', token: () => '' }) as {
      token: () => Promise<string>;
    };
    await expect(empty.token()).rejects.toMatchObject({ code: 'CONFIG', field: 'sasl.token' });
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
    [
      'sasl.mechanism',
      { mechanism: 'gssapi' },
      /one of plain, scram-sha-256, scram-sha-512, oauthbearer.*platformatic: \{ sasl:/,
    ],
    [
      'sasl.mechanism',
      { mechanism: 'kerberos' },
      /one of plain, scram-sha-256, scram-sha-512, oauthbearer, got "kerberos"$/,
    ],
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
      client: 'kafkajs',
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
    expect(kafkajsSecurity(resolved)).toMatchObject({ sasl: { mechanism: 'aws' }, retry: { retries: 2 } });
    expect(resolved.redactor.text('AKIA1 sak-1')).toBe('*** ***');
  });

  it('lets the @platformatic/kafka settings win, and redacts what their credential providers return', async () => {
    const resolved = resolveOptions({
      brokers,
      client: 'platformatic',
      platformatic: {
        sasl: { mechanism: 'SCRAM-SHA-256', username: 'app', password: async () => 'pw-from-vault' },
        retries: 2,
      },
    });
    const options = baseOptions(resolved);
    expect(options).toMatchObject({ retries: 2, clientId: 'tidings', bootstrapBrokers: brokers });
    const provider = options.sasl!.password as () => Promise<string>;
    expect(await provider()).toBe('pw-from-vault');
    expect(resolved.redactor.text('login pw-from-vault')).toBe('login ***');
  });

  it("refuses one client's settings given to the other, naming the client to choose", () => {
    expect(
      configRefusal(() => resolveOptions({ brokers, client: 'platformatic', kafkajs: { retry: {} } })),
    ).toMatch(
      /^kafkajs: holds settings of the kafkajs client, but the adapter runs on platformatic: set client: 'kafkajs'/,
    );
    expect(
      configRefusal(() => resolveOptions({ brokers, client: 'kafkajs', platformatic: { retries: 1 } })),
    ).toMatch(/^platformatic: .* set client: 'platformatic'/);
    expect(configRefusal(() => resolveOptions({ brokers, client: 'librdkafka' as never }))).toMatch(
      /^client: must be one of platformatic, kafkajs, got "librdkafka"/,
    );
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
