/**
 * What the adapter needs from a Kafka client's producers: a plain idempotent one for publishing,
 * a transactional one for redrives. Each client implements them in `client/<name>/producer.ts`.
 *
 * @module
 */

import type { KafkaCompression } from '../options';

/** @internal One record to produce, as the codec makes it: the client's partitioner places it by key. */
export interface WireMessage {
  readonly key: string | null;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/** @internal Records for one topic, in the order they must keep per key. */
export interface TopicMessages {
  readonly topic: string;
  readonly messages: readonly WireMessage[];
}

/**
 * @internal Settings shared by both producers. Either kind is idempotent, at most one request in
 * flight per broker (so a retried batch cannot overtake the next) and places a keyed record with
 * murmur2 the way the Java client does, so a key lands on the same partition whoever produces it.
 */
export interface ProducerSettings {
  /** Whether producing to a missing topic may create it (the broker's `auto.create.topics.enable`). */
  readonly allowAutoTopicCreation: boolean;
  /** Retries of one send before it fails; the client's default when omitted. */
  readonly retries?: number;
}

/** @internal An idempotent producer. `send` calls may overlap; each resolves once every broker acknowledged it (acks=all). */
export interface KafkaProducerClient {
  /** Opens the connections; rejects with the client's error when no broker answers. */
  connect(): Promise<void>;
  send(
    batch: readonly TopicMessages[],
    options: { readonly compression: KafkaCompression; readonly timeoutMs: number },
  ): Promise<void>;
  /** Closes the connections; never rejects. */
  disconnect(): Promise<void>;
}

/** @internal Settings of a transactional producer. */
export interface TransactionalProducerSettings extends ProducerSettings {
  /**
   * The transactional id: a new producer with the same id fences the one before it (its open
   * transaction is aborted, its later writes refused).
   */
  readonly transactionalId: string;
  /** How long the coordinator keeps a transaction open before aborting it. */
  readonly transactionTimeoutMs: number;
}

/** @internal An open transaction: one at a time per producer. */
export interface KafkaTransaction {
  /** Writes within the transaction; visible to read-committed readers only after {@link commit}. */
  send(batch: readonly TopicMessages[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** @internal A transactional producer. */
export interface KafkaTransactionalProducer {
  connect(): Promise<void>;
  /** Begins a transaction; the previous one must be committed or aborted. */
  transaction(): Promise<KafkaTransaction>;
  /** Closes the connections; never rejects. */
  disconnect(): Promise<void>;
}

/**
 * @internal The producing side of a Kafka client: what `connection.ts` hands the publisher and the
 * redrive operations.
 */
export interface KafkaProducerFactory {
  /** Whether the client can compress with `compression` (a codec may need registering first). */
  compressionAvailable(compression: KafkaCompression): boolean;
  /** A new, unconnected producer. */
  producer(settings: ProducerSettings): KafkaProducerClient;
  /** A new, unconnected transactional producer. */
  transactionalProducer(settings: TransactionalProducerSettings): KafkaTransactionalProducer;
}
