import type { CompressionTypes, Kafka, Producer } from 'kafkajs';
import type { KafkaCompression } from '../../options';
import type { InstrumentedClient } from '../client';
import type { KafkaProducerFactory, TopicMessages } from '../producer';
import { kafkajs } from './module';

/**
 * The adapter's producers on kafkajs.
 *
 * @module
 */

/** Kafka's codes of the compressions, which kafkajs's `CompressionTypes` numbers as Kafka does. */
const COMPRESSION: Record<KafkaCompression, CompressionTypes> = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
};

/** @internal Watches a kafkajs client's request events (the connection monitor); returns the unwatch. */
export type WatchClient = (client: InstrumentedClient) => () => void;

/**
 * @internal Producers on one kafkajs `Kafka`; `watch` sees every plain producer while it is connected.
 * @example
 * const producers = kafkajsProducers(kafka, (client) => monitor.watch(client));
 * const producer = producers.producer({ allowAutoTopicCreation: false, retries: 5 });
 */
export function kafkajsProducers(kafka: Kafka, watch: WatchClient): KafkaProducerFactory {
  return {
    compressionAvailable(compression) {
      const type = COMPRESSION[compression];
      if (type === COMPRESSION.none) return true;
      const codecs = (kafkajs() as unknown as { CompressionCodecs?: Record<number, () => unknown> })
        .CompressionCodecs;
      try {
        return codecs?.[type]?.() !== undefined;
      } catch {
        // kafkajs's stand-in for a codec nobody registered throws when called: not available.
        return false;
      }
    },

    producer({ allowAutoTopicCreation, retries }) {
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        // Murmur2 like the Java client: a key lands on the same partition whoever produces it.
        createPartitioner: kafkajs().Partitioners.DefaultPartitioner,
        allowAutoTopicCreation,
        ...(retries === undefined ? {} : { retry: { retries } }),
      });
      let unwatch: (() => void) | undefined;
      return {
        async connect() {
          unwatch ??= watch(producer as unknown as InstrumentedClient);
          await producer.connect();
        },
        async send(batch, { compression, timeoutMs }) {
          await producer.sendBatch({
            topicMessages: topicMessages(batch),
            acks: -1,
            compression: COMPRESSION[compression],
            timeout: timeoutMs,
          });
        },
        async disconnect() {
          unwatch?.();
          unwatch = undefined;
          await producer.disconnect().catch(() => undefined);
        },
      };
    },

    transactionalProducer({ transactionalId, transactionTimeoutMs, allowAutoTopicCreation, retries }) {
      const producer: Producer = kafka.producer({
        transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: kafkajs().Partitioners.DefaultPartitioner,
        allowAutoTopicCreation,
        transactionTimeout: transactionTimeoutMs,
        ...(retries === undefined ? {} : { retry: { retries } }),
      });
      return {
        connect: () => producer.connect(),
        async transaction() {
          const transaction = await producer.transaction();
          return {
            async send(batch) {
              await transaction.sendBatch({ topicMessages: topicMessages(batch), acks: -1 });
            },
            commit: () => transaction.commit(),
            abort: () => transaction.abort(),
          };
        },
        disconnect: () => producer.disconnect().catch(() => undefined),
      };
    },
  };
}

function topicMessages(batch: readonly TopicMessages[]) {
  return batch.map(({ topic, messages }) => ({
    topic,
    // A WireMessage is a kafkajs Message already; only the array is copied (kafkajs types it mutable).
    messages: [...messages],
  }));
}
