/**
 * Apache Kafka adapter for Tidings, on @platformatic/kafka or kafkajs.
 *
 * @module @tidings/adapter-kafka
 */
// The public API of @tidings/adapter-kafka.

export type { KafkaAdapter } from './adapter';
export { createKafkaAdapter, kafkaCapabilities } from './adapter';
export type { CommitMetadata, DrainMarker, RetryMark } from './commit-metadata';
export { decodeCommitMetadata } from './commit-metadata';
export type { KafkaLogEntry, KafkaLogger, KafkaLogLevel } from './logging';
export type {
  KafkaAdapterOptions,
  KafkaClientName,
  KafkaCompression,
  KafkaConsumerOptions,
  KafkajsClientSettings,
  KafkaProducerOptions,
  KafkaRetryTopicOptions,
  KafkaTopicOptions,
  PlatformaticClientSettings,
  RetryTopicNamer,
} from './options';
export { defaultRetryTopicName } from './options';
export { KAFKA_RETRY_HEADERS } from './retry-topics';
export type {
  KafkaOAuthTokenProvider,
  KafkaSaslOAuthBearerOptions,
  KafkaSaslOptions,
  KafkaSaslPasswordOptions,
  KafkaTlsOptions,
  KafkaTlsSettings,
} from './security';
export type { KafkaTopicNamerOptions } from './topics';
export { kafkaTopicNamer, topicNameProblem } from './topics';
