import {
  type CompressionAlgorithmValue,
  compatibilityPartitioner,
  compressionsAlgorithms,
  type MessageToProduce,
  Producer,
  type ProducerOptions,
} from '@platformatic/kafka';
import type { KafkaCompression } from '../../options';
import type { ConnectionWatcher } from '../client';
import type { KafkaProducerFactory, ProducerSettings, TopicMessages } from '../producer';
import { watchConnections } from './watch';

/**
 * The adapter's producers on `@platformatic/kafka`.
 *
 * platformatic takes the broker-side timeouts once per client, as its `timeout` option: the Produce
 * request's timeout and, on a transactional producer, the transaction's. A plain producer is made
 * with the adapter's request timeout (what the publisher passes every send); a transactional one
 * with its transaction timeout.
 *
 * @module
 */

/** Key and body as Buffers; header names and values as the record's strings, serialised by the producer. */
type WireRecord = MessageToProduce<Buffer, Buffer, string, string>;

/** Header names a producer keeps as bytes: a record carries the same dozen names, an app a few dozen. */
const HEADER_NAME_CACHE_LIMIT = 1_024;

/**
 * @internal Header names and values to bytes, as platformatic's `serializers` take them. platformatic
 * turns every record's headers into a Map of serialised pairs itself, so handing it the record's
 * own header object costs one pass; names repeat on every record and are encoded once (the Buffers
 * are only read, when the request is written).
 * @example
 * new Producer({ ...base, serializers: headerSerializers() });
 */
export function headerSerializers(): {
  headerKey: (name?: string) => Buffer | undefined;
  headerValue: (value?: string) => Buffer | undefined;
} {
  const names = new Map<string, Buffer>();
  return {
    headerKey(name) {
      if (name === undefined) return undefined;
      let bytes = names.get(name);
      if (bytes === undefined) {
        bytes = Buffer.from(name);
        if (names.size < HEADER_NAME_CACHE_LIMIT) names.set(name, bytes);
      }
      return bytes;
    },
    headerValue: (value) => (value === undefined ? undefined : Buffer.from(value)),
  };
}

/** The seam's names of codecs are platformatic's own. */
const COMPRESSION: Record<KafkaCompression, CompressionAlgorithmValue> = {
  none: 'none',
  gzip: 'gzip',
  snappy: 'snappy',
  lz4: 'lz4',
  zstd: 'zstd',
};

/**
 * @internal Places records as kafkajs's DefaultPartitioner does: a keyed one by the Java client's
 * murmur2 (platformatic's default partitioner uses another mask and places keys elsewhere), a
 * key-less one round-robin per topic (platformatic's compatibility partitioner alone puts them all
 * on partition 0). The producer takes the result modulo the topic's partition count.
 * @example
 * new Producer({ ...base, partitioner: javaPartitioner() });
 */
export function javaPartitioner(): (message: WireRecord, key: Buffer | undefined) => number {
  const next = new Map<string, number>();
  return (message, key) => {
    if (Buffer.isBuffer(key)) return compatibilityPartitioner(message, key);
    const turn = next.get(message.topic) ?? 0;
    // Kept under 2^31: the producer masks and divides a 32-bit partition number.
    next.set(message.topic, (turn + 1) % 0x7fffffff);
    return turn;
  };
}

/**
 * @internal Producers of the adapter on platformatic, made with the client's base settings; their
 * failed connection attempts reach `monitor`.
 * @example
 * const producers = platformaticProducers(baseOptions(options), monitor);
 * const producer = producers.producer({ allowAutoTopicCreation: false });
 */
export function platformaticProducers(
  base: ProducerOptions<Buffer, Buffer, string, string>,
  monitor: Pick<ConnectionWatcher, 'lost'>,
): KafkaProducerFactory {
  const make = (
    settings: ProducerSettings,
    extra: Partial<ProducerOptions<Buffer, Buffer, string, string>>,
  ) =>
    new Producer<Buffer, Buffer, string, string>({
      ...base,
      serializers: headerSerializers(),
      // Idempotent, acks=all, one request in flight per broker: a retried batch cannot overtake the next.
      idempotent: true,
      acks: -1,
      maxInflights: 1,
      partitioner: javaPartitioner(),
      autocreateTopics: settings.allowAutoTopicCreation,
      ...(settings.retries === undefined ? {} : { retries: settings.retries }),
      ...extra,
    });

  return {
    compressionAvailable(compression) {
      // zstd needs zlib's zstd, which Node has from 22.15 / 23.8 only.
      return compressionsAlgorithms[COMPRESSION[compression]]?.available === true;
    },

    producer(settings) {
      const producer = make(settings, {});
      let unwatch: (() => void) | undefined;
      return {
        async connect() {
          unwatch ??= watchConnections(producer, monitor);
          // platformatic connects on first use: a metadata request proves a broker answers.
          await producer.metadata({ topics: [], forceUpdate: true });
        },
        async send(batch, { compression }) {
          await producer.send({ messages: messagesOf(batch), compression: COMPRESSION[compression] });
        },
        async disconnect() {
          unwatch?.();
          unwatch = undefined;
          await producer.close().catch(() => undefined);
        },
      };
    },

    transactionalProducer({ transactionalId, transactionTimeoutMs, ...settings }) {
      const producer = make(settings, {
        transactionalId,
        timeout: transactionTimeoutMs,
        // Ask the coordinator for a new epoch rather than present an old one: on Kafka 3.9, a second
        // producer with this id is refused (PRODUCER_FENCED) unless it does, and so cannot fence the first.
        producerId: -1n,
        producerEpoch: -1,
      });
      return {
        async connect() {
          await producer.metadata({ topics: [], forceUpdate: true });
        },
        async transaction() {
          const transaction = await producer.beginTransaction();
          // platformatic ends even a transaction that wrote nothing with EndTxn, which the coordinator
          // refuses (INVALID_TXN_STATE, nothing is open), and the producer then stays in that
          // transaction. kafkajs ends such a one locally; so does this, with `cancel`.
          let wrote = false;
          return {
            async send(batch) {
              wrote = true;
              await transaction.send({ messages: messagesOf(batch) });
            },
            commit: () => (wrote ? transaction.commit() : transaction.cancel()),
            async abort() {
              if (!wrote) return transaction.cancel();
              try {
                await transaction.abort();
              } catch (error) {
                // The coordinator aborts it by itself once it times out: let the producer begin again.
                await transaction.cancel().catch(() => undefined);
                throw error;
              }
            },
          };
        },
        disconnect: () => producer.close().catch(() => undefined),
      };
    },
  };
}

/**
 * The seam's records as platformatic's: key and body as Buffers (the client's default serialisers
 * pass them through), the header object as it is (the producer's {@link headerSerializers} encode it).
 */
function messagesOf(batch: readonly TopicMessages[]): WireRecord[] {
  const out: WireRecord[] = [];
  for (const { topic, messages } of batch) {
    for (const { key, value, headers } of messages) {
      out.push(key === null ? { topic, value, headers } : { topic, value, headers, key: Buffer.from(key) });
    }
  }
  return out;
}
