import { describe, expect, it } from 'vitest';
import { rabbitmqCapabilities } from './adapter';
import { secretsOf } from './errors';
import { type RabbitMQAdapterOptions, resolveOptions } from './options';

describe('resolveOptions', () => {
  it('fills in defaults', () => {
    // An explicit undefined (from JavaScript, or a spread config) keeps the default.
    const options = resolveOptions({ url: undefined } as unknown as RabbitMQAdapterOptions);
    expect(options).toMatchObject({
      url: 'amqp://localhost',
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
    [{ rejectUnroutable: 'yes' as unknown as boolean }, 'rejectUnroutable'],
  ])('refuses %j, naming %s', (options, field) => {
    expect(() => resolveOptions(options)).toThrow(expect.objectContaining({ code: 'CONFIG', field }));
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
    expect(secretsOf({ url: 'amqp://app:p%40ss%2Fw0rd@mq:5672/shop', socketOptions: {} })).toEqual([
      'p%40ss%2Fw0rd',
      'p@ss/w0rd',
    ]);
    expect(secretsOf({ url: 'amqp://mq', socketOptions: {} })).toEqual([]);
    expect(
      secretsOf({
        url: { hostname: 'mq', username: 'app', password: 'object-secret' },
        socketOptions: {
          passphrase: 'key-passphrase',
          credentials: { mechanism: 'PLAIN', response: () => Buffer.alloc(0), password: 'credential-secret' },
        },
      }),
    ).toEqual(['object-secret', 'credential-secret', 'key-passphrase']);
  });
});
