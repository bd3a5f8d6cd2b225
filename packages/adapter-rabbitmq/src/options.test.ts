import { describe, expect, it } from 'vitest';
import { rabbitmqCapabilities } from './adapter';
import { secretsOf } from './errors';
import { type RabbitMQAdapterOptions, resolveOptions } from './options';

describe('resolveOptions', () => {
  it('fills in defaults', () => {
    // An explicit undefined (from JavaScript, or a spread config) keeps the default.
    const options = resolveOptions({ url: undefined } as unknown as RabbitMQAdapterOptions);
    expect(options).toMatchObject({
      urls: ['amqp://localhost'],
      exchange: 'tidings',
      queueType: 'quorum',
      rejectUnroutable: true,
      maxMessageBytes: 16 * 1024 * 1024,
      delayResolutionMs: 100,
      reconnect: { initialDelayMs: 100, maxDelayMs: 10_000 },
    });
  });

  it.each([
    [{ exchange: 'a/b' }, 'exchange'],
    [{ exchange: 'amq.topic' }, 'exchange'],
    [{ exchange: '' }, 'exchange'],
    [{ queueType: 'stream' as 'quorum' }, 'queueType'],
    [{ maxMessageBytes: 0 }, 'maxMessageBytes'],
    [{ maxMessageBytes: 1024 * 1024 * 1024 }, 'maxMessageBytes'],
    [{ delayResolutionMs: 0.5 }, 'delayResolutionMs'],
    [{ publishTimeoutMs: -1 }, 'publishTimeoutMs'],
    [{ reconnect: { initialDelayMs: 500, maxDelayMs: 100 } }, 'reconnect.maxDelayMs'],
    [{ connectionName: '' }, 'connectionName'],
    [{ url: 'not a url' }, 'url'],
    [{ url: 'http://127.0.0.1:5672' }, 'url'],
    [{ url: [] }, 'url'],
    [{ url: ['amqp://a', 'http://b'] }, 'url[1]'],
    [{ url: ['amqp://a', 5672 as unknown as string] }, 'url[1]'],
    [{ url: ['amqp://a/orders', 'amqp://b/orders', 'amqp://c'] }, 'url[2]'],
    [{ url: ['amqp://a/orders', { hostname: 'b', vhost: 'shop' }] }, 'url[1]'],
    [{ rejectUnroutable: 'yes' as unknown as boolean }, 'rejectUnroutable'],
    [{ management: true as unknown as false }, 'management'],
    [{ management: { url: 'amqp://mq:15672' } }, 'management.url'],
    [{ management: { url: 'not a url' } }, 'management.url'],
    [{ management: { timeoutMs: 0 } }, 'management.timeoutMs'],
  ])('refuses %j, naming %s', (options, field) => {
    expect(() => resolveOptions(options)).toThrow(expect.objectContaining({ code: 'CONFIG', field }));
  });
});

describe('the management API option', () => {
  it('is derived from the AMQP URL: same host and login, the plugin port, the URL vhost', () => {
    expect(resolveOptions({ url: 'amqp://app:p%40ss@mq.internal:5672/shop%2Feu' }).management).toEqual({
      url: 'http://mq.internal:15672/',
      username: 'app',
      password: 'p@ss',
      vhost: 'shop/eu',
      timeoutMs: 2_000,
    });
    // amqplib's defaults: guest/guest, the default vhost, localhost.
    expect(resolveOptions({}).management).toMatchObject({
      url: 'http://localhost:15672/',
      username: 'guest',
      password: 'guest',
      vhost: '/',
    });
    expect(resolveOptions({ url: 'amqps://[::1]/' }).management).toMatchObject({
      url: 'https://[::1]:15671/',
      vhost: '/',
    });
    expect(
      resolveOptions({ url: { hostname: 'mq', username: 'app', password: 'pw', vhost: 'v' } }).management,
    ).toMatchObject({ url: 'http://mq:15672/', username: 'app', password: 'pw', vhost: 'v' });
  });

  it('takes a URL of its own, with or without a login, and can be turned off', () => {
    expect(
      resolveOptions({
        url: 'amqp://app:pw@mq/shop',
        management: { url: 'https://admin:s3cret@proxy.internal/rabbitmq?x=1', timeoutMs: 500 },
      }).management,
    ).toEqual({
      url: 'https://proxy.internal/rabbitmq/',
      username: 'admin',
      password: 's3cret',
      vhost: 'shop',
      timeoutMs: 500,
    });
    expect(
      resolveOptions({ url: 'amqp://app:pw@mq/shop', management: { url: 'http://mq:8080' } }).management,
    ).toMatchObject({ url: 'http://mq:8080/', username: 'app', password: 'pw' });
    expect(resolveOptions({ management: false }).management).toBe(false);
  });
});

describe('rabbitmqCapabilities', () => {
  it('declares what the broker can do, honestly', () => {
    expect(rabbitmqCapabilities()).toEqual({
      ordering: 'none',
      durable: true,
      replay: false,
      redelivery: true,
      deliveryCount: true,
      delayedRetry: true,
      nativeDeadLetter: true,
      deduplication: false,
      maxMessageBytes: 16 * 1024 * 1024,
      delayToleranceMs: 1_100,
      headerPrefix: 'cloudEvents:',
      topicRule: {
        pattern: '^[^*#\\p{Cc}]+$',
        maxBytes: 200,
        description: "any characters but '*', '#' and control characters (AMQP routing keys)",
      },
      operations: {
        deadLetters: true,
        replay: expect.stringContaining('no history'),
      },
    });
    expect(rabbitmqCapabilities({ queueType: 'classic' }).deliveryCount).toBe(false);
  });
});

describe('secretsOf', () => {
  it('finds the password of a URL, as written and decoded, of a connection object and of credentials', () => {
    expect(secretsOf({ urls: ['amqp://app:p%40ss%2Fw0rd@mq:5672/shop'], socketOptions: {} })).toEqual([
      'p%40ss%2Fw0rd',
      'p@ss/w0rd',
    ]);
    expect(secretsOf({ urls: ['amqp://mq'], socketOptions: {} })).toEqual([]);
    expect(
      secretsOf({
        urls: [{ hostname: 'mq', username: 'app', password: 'object-secret' }],
        socketOptions: {
          passphrase: 'key-passphrase',
          credentials: { mechanism: 'PLAIN', response: () => Buffer.alloc(0), password: 'credential-secret' },
        },
      }),
    ).toEqual(['object-secret', 'credential-secret', 'key-passphrase']);
  });

  it('finds the password of the management URL, but not the default guest', () => {
    const options = resolveOptions({
      url: 'amqp://app:amqp-secret@mq',
      management: { url: 'http://admin:mgmt-secret@mq:15672' },
    });
    // The AMQP password comes twice, as written and decoded (the same here).
    expect(new Set(secretsOf(options))).toEqual(new Set(['amqp-secret', 'mgmt-secret']));
    expect(secretsOf(resolveOptions({ url: 'amqp://mq' }))).toEqual([]);
  });
});

describe('a cluster', () => {
  it('takes every node, in order, each checked; one URL is a list of one', () => {
    const nodes = [
      'amqp://app:pw@rabbit-1:5672/shop',
      'amqp://app:pw@rabbit-2:5673/shop',
      { hostname: 'rabbit-3', vhost: 'shop' },
    ];
    expect(resolveOptions({ url: nodes }).urls).toEqual(nodes);
    expect(resolveOptions({ url: 'amqp://mq' }).urls).toEqual(['amqp://mq']);
  });

  it("derives the management API from the first node, with the first node's login", () => {
    expect(
      resolveOptions({ url: ['amqp://app:pw@rabbit-1/shop', 'amqp://other:pw2@rabbit-2/shop'] }).management,
    ).toMatchObject({
      url: 'http://rabbit-1:15672/',
      username: 'app',
      password: 'pw',
      vhost: 'shop',
    });
  });

  it("finds every node's password", () => {
    const options = resolveOptions({
      url: [
        'amqp://app:first-secret@rabbit-1',
        { hostname: 'rabbit-2', username: 'app', password: 'second-secret' },
      ],
      management: false,
    });
    expect(secretsOf(options)).toEqual(['first-secret', 'first-secret', 'second-secret']);
  });
});
