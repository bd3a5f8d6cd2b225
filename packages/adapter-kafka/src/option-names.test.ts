import { configRefusal } from '@tidings/conformance';
import { describe, expect, it } from 'vitest';
import { createKafkaAdapter } from './adapter';
import type { KafkaAdapterOptions } from './options';

describe('unknown option names', () => {
  it('are a ConfigError naming the field, with the nearest known name', () => {
    const brokers = ['127.0.0.1:9092'];
    // @ts-expect-error a typo, as JavaScript or a spread object would pass it
    expect(configRefusal(() => createKafkaAdapter({ brokers, clientID: 'x' }))).toMatch(
      /^clientID: .*did you mean "clientId"/,
    );
    // @ts-expect-error idem
    expect(configRefusal(() => createKafkaAdapter({ brokers, consumer: { sessionTimeout: 1 } }))).toMatch(
      /^consumer.sessionTimeout: .*did you mean "sessionTimeoutMs"/,
    );
    // @ts-expect-error idem
    expect(configRefusal(() => createKafkaAdapter({ brokers, producer: { compresion: 'gzip' } }))).toMatch(
      /^producer.compresion: /,
    );
    // @ts-expect-error idem
    expect(configRefusal(() => createKafkaAdapter({ brokers, topics: { partition: 3 } }))).toMatch(
      /^topics.partition: .*"partitions"/,
    );
    // @ts-expect-error idem
    expect(configRefusal(() => createKafkaAdapter({ brokers, retryTopics: { tiers: [1] } }))).toMatch(
      /^retryTopics.tiers: /,
    );
    // @ts-expect-error idem, inside our own TLS settings
    expect(configRefusal(() => createKafkaAdapter({ brokers, ssl: { rejectUnauthorised: false } }))).toMatch(
      /^ssl.rejectUnauthorised: .*"rejectUnauthorized"/,
    );
    // The clients' own configurations pass through unchecked.
    expect(() =>
      createKafkaAdapter({ brokers, client: 'kafkajs', kafkajs: { retry: { retries: 1 } } }),
    ).not.toThrow();
    expect(() =>
      createKafkaAdapter({ brokers, platformatic: { retries: 1, metadataMaxAge: 1 } }),
    ).not.toThrow();
  });

  it('says where the renamed kafkaConfig went', () => {
    const brokers = ['127.0.0.1:9092'];
    // @ts-expect-error the old name, as a config written for 0.1 passes it
    const old: KafkaAdapterOptions = { brokers, kafkaConfig: { retry: { retries: 1 } } };
    expect(configRefusal(() => createKafkaAdapter(old))).toMatch(
      /^kafkaConfig: was renamed: .*`kafkajs: \{ \.\.\. \}`/,
    );
  });
});
