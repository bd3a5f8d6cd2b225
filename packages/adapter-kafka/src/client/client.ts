/**
 * A Kafka client as the adapter sees it: the parts `connection.ts` hands out. kafkajs implements it
 * in `client/kafkajs/client.ts`; `@platformatic/kafka` is to implement it in
 * `client/platformatic/client.ts` (issue 18).
 *
 * @module
 */

import type { KafkaAdminClient } from './admin';
import type { KafkaConsumerFactory } from './consumer';
import type { KafkaProducerFactory } from './producer';
import type { KafkaLogReaderClient } from './reader';

/**
 * @internal What the adapter's connection monitor needs of a client's producer, consumer or admin:
 * its network events. kafkajs's clients have them as they are; another client adapts its own
 * events (a request answered, a request timed out) to this shape.
 */
export interface InstrumentedClient {
  readonly events: { readonly REQUEST: string; readonly REQUEST_TIMEOUT: string };
  on(event: string, listener: (event: { readonly payload: NetworkEventPayload }) => void): () => void;
}

/** @internal A request's network event, as {@link InstrumentedClient} reports it. */
export interface NetworkEventPayload {
  readonly broker?: string;
  readonly apiName?: string;
  readonly sentAt?: number | null;
}

/** @internal Where a client reports the state of its connections: the adapter's connection monitor. */
export interface ConnectionWatcher {
  /** A socket failed or a request could not reach a broker: the connection is lost. */
  lost(error: unknown): void;
  /** Watches a client's request events until the returned function is called. */
  watch(client: InstrumentedClient): () => void;
}

/** @internal A connected admin client and the way to close it. */
export interface ConnectedAdmin {
  readonly admin: KafkaAdminClient;
  /** Closes its connections; never rejects. */
  disconnect(): Promise<void>;
}

/**
 * @internal One client per adapter, made with the adapter's resolved options. It reports lost
 * connections to the adapter's connection monitor by itself (sockets failing, requests timing out).
 */
export interface KafkaClient {
  readonly producers: KafkaProducerFactory;
  readonly consumers: KafkaConsumerFactory;
  readonly reader: KafkaLogReaderClient;
  /** Connects a new admin client; rejects with the client's error when no broker answers. */
  connectAdmin(): Promise<ConnectedAdmin>;
}
