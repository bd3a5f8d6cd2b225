import { describe, expect, it } from 'vitest';
import { rabbitmqCapabilities } from './adapter';
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
    });
    expect(rabbitmqCapabilities({ queueType: 'classic' }).deliveryCount).toBe(false);
  });
});
