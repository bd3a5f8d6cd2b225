import { describe, expect, it } from 'vitest';
import { createKafkaAdapter, kafkaCapabilities } from './adapter';
import { defaultRetryTopicName, formatDuration, type KafkaAdapterOptions, resolveOptions } from './options';

const brokers = ['127.0.0.1:9092'];

function configError(options: KafkaAdapterOptions): { code: string; field: string } {
  try {
    resolveOptions(options);
  } catch (error) {
    return error as { code: string; field: string };
  }
  throw new Error('expected a ConfigError');
}

describe('kafka adapter options', () => {
  it('fills in defaults', () => {
    const options = resolveOptions({ brokers });
    expect(options).toMatchObject({
      clientId: 'tidings',
      maxMessageBytes: 1_000_000,
      producer: { compression: 'none', publishTimeoutMs: 30_000, retries: 5 },
      consumer: {
        sessionTimeoutMs: 30_000,
        heartbeatIntervalMs: 3_000,
        maxWaitTimeMs: 500,
        commitIntervalMs: 200,
      },
      topics: { create: true, partitions: undefined },
      retryTopics: { tiersMs: [0, 10_000, 60_000] },
      logLevel: 'warn',
    });
  });

  it.each<[string, KafkaAdapterOptions]>([
    ['brokers', { brokers: [] }],
    ['brokers[1]', { brokers: ['a:1', 'no-port'] }],
    ['clientId', { brokers, clientId: '' }],
    ['producer.compression', { brokers, producer: { compression: 'brotli' as never } }],
    ['producer.publishTimeoutMs', { brokers, producer: { publishTimeoutMs: 0 } }],
    [
      'consumer.heartbeatIntervalMs',
      { brokers, consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 6_000 } },
    ],
    ['consumer.maxBufferedRecords', { brokers, consumer: { maxBufferedRecords: 0.5 } }],
    ['topics.partitions', { brokers, topics: { partitions: 0 } }],
    ['retryTopics.tiersMs', { brokers, retryTopics: { tiersMs: [1_000] } }],
    ['retryTopics.tiersMs[2]', { brokers, retryTopics: { tiersMs: [0, 5_000, 5_000] } }],
    ['maxMessageBytes', { brokers, maxMessageBytes: -1 }],
    ['logLevel', { brokers, logLevel: 'trace' as never }],
  ])('names %s when it is wrong', (field, options) => {
    expect(configError(options)).toMatchObject({ code: 'CONFIG', field });
  });

  it('checks the options when the adapter is created', () => {
    expect(() => createKafkaAdapter({ brokers: [] })).toThrow(/brokers/);
    expect(() => createKafkaAdapter({ brokers, producer: { compression: 'zstd' } })).toThrow(
      /producer.compression: "zstd" needs a codec/,
    );
  });

  it('does not repeat the credentials of a broker pasted as a URL', () => {
    const error = configError({ brokers: ['kafka://app:Pa55-w0rd@kafka-1:9092'] }) as unknown as Error;
    expect(error).toMatchObject({ code: 'CONFIG', field: 'brokers[0]' });
    expect(error.message).toContain('kafka://***@kafka-1:9092');
    expect(error.message).not.toContain('Pa55-w0rd');
  });

  it('declares its capabilities, with the configured size limit', () => {
    expect(kafkaCapabilities).toMatchObject({ ordering: 'key', deliveryCount: false, headerPrefix: 'ce_' });
    expect(createKafkaAdapter({ brokers, maxMessageBytes: 2_000 }).capabilities.maxMessageBytes).toBe(2_000);
  });

  it('names retry topics after the topic, group and tier', () => {
    expect(defaultRetryTopicName('orders', 'billing', 0)).toBe('orders.billing.retry-0s');
    expect(defaultRetryTopicName('orders', 'billing', 90_000)).toBe('orders.billing.retry-90s');
    expect([1_500, 60_000, 7_200_000].map(formatDuration)).toEqual(['1500ms', '1m', '2h']);
  });
});
