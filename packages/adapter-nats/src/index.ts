// '@tidings/adapter-nats': NATS JetStream and core-NATS adapters for Tidings.

export { createNatsCoreAdapter, natsCoreCapabilities } from './core/adapter';
export { decodeHeaderValue, encodeHeaderValue, KEY_HEADER } from './headers';
export { createNatsAdapter, natsCapabilities } from './jetstream/adapter';
export type { NatsAdapter } from './nats-adapter';
export type {
  NatsAdapterOptions,
  NatsConnectionOptions,
  NatsCoreAdapterOptions,
  NatsStreamOptions,
} from './options';
export { partitionOfKey } from './subjects';
