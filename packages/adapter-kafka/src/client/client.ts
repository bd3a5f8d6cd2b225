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
