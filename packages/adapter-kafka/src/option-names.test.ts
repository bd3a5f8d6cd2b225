import { ConfigError } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { createKafkaAdapter } from './adapter';

/** The message of the ConfigError a factory throws. */
function refusal(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    // The message starts with the field's path.
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('unknown option names', () => {
  it('are a ConfigError naming the field, with the nearest known name', () => {
    const brokers = ['127.0.0.1:9092'];
    // @ts-expect-error a typo, as JavaScript or a spread object would pass it
    expect(refusal(() => createKafkaAdapter({ brokers, clientID: 'x' }))).toMatch(
      /^clientID: .*did you mean "clientId"/,
    );
    // @ts-expect-error idem
    expect(refusal(() => createKafkaAdapter({ brokers, consumer: { sessionTimeout: 1 } }))).toMatch(
      /^consumer.sessionTimeout: .*did you mean "sessionTimeoutMs"/,
    );
    // @ts-expect-error idem
    expect(refusal(() => createKafkaAdapter({ brokers, producer: { compresion: 'gzip' } }))).toMatch(
      /^producer.compresion: /,
    );
    // @ts-expect-error idem
    expect(refusal(() => createKafkaAdapter({ brokers, topics: { partition: 3 } }))).toMatch(
      /^topics.partition: .*"partitions"/,
    );
    // @ts-expect-error idem
    expect(refusal(() => createKafkaAdapter({ brokers, retryTopics: { tiers: [1] } }))).toMatch(
      /^retryTopics.tiers: /,
    );
    // KafkaJS's own configuration passes through unchecked.
    expect(() => createKafkaAdapter({ brokers, kafkaConfig: { retry: { retries: 1 } } })).not.toThrow();
  });
});
