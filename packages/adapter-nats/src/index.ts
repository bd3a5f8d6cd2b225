/**
 * NATS JetStream adapter for Tidings, on the nats client.
 *
 * @module @tidings/adapter-nats
 */
// '@tidings/adapter-nats': NATS JetStream and core-NATS adapters for Tidings.

// The rule is the core's, shared with the Kafka adapter; re-exported for this package's users.
export { REDRIVE_GROUP_HEADER } from '@tidings/core/adapter';
export type { NatsAdapter } from './adapter';
export { decodeHeaderValue, encodeHeaderValue, KEY_HEADER } from './codec';
export { createNatsCoreAdapter, natsCoreCapabilities } from './core-nats/adapter';
export type { NatsJetStreamAdapter } from './jetstream/adapter';
export { createNatsAdapter, natsCapabilities } from './jetstream/adapter';
export type {
  NatsAdapterOptions,
  NatsConnectionOptions,
  NatsCoreAdapterOptions,
  NatsStreamOptions,
} from './options';
export { partitionOfKey } from './subjects';
