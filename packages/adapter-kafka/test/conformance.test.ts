import type { Socket } from 'node:net';
import { describeAdapter } from '@tidings/conformance';
import type { BrokerAdapter } from '@tidings/core/adapter';
import { afterAll } from 'vitest';
import { dropSockets, tapSockets } from './clients';
import {
  closeRawProducer,
  closeTestAdmin,
  deleteByPrefix,
  rawProduce,
  testAdapter,
  testNamespace,
} from './helpers';

const namespace = testNamespace('c');
const sockets = new WeakMap<BrokerAdapter, Set<Socket>>();

describeAdapter({
  name: 'kafka',
  namespace,
  createAdapter: () => {
    const tap = tapSockets();
    const adapter = testAdapter(tap.options);
    sockets.set(adapter, tap.sockets);
    return adapter;
  },
  // Kafka has no "kick this client" request: cut the adapter's sockets, as a network failure would.
  dropConnection: async (adapter) => dropSockets(sockets.get(adapter) ?? new Set()),
  // Kafka topic names are ASCII letters, digits, '.', '_' and '-' only.
  unicodeTopics: false,
  // A plain kafkajs producer, as a foreign producer writes: the key as the Kafka key, the headers as
  // Kafka headers, the body as the value.
  injectRaw: (topic, records) => rawProduce(topic, records),
  // Retry and dead-letter topics share the namespace prefix, so this removes them too.
  cleanup: () => deleteByPrefix(namespace),
});

afterAll(async () => {
  await closeRawProducer();
  await closeTestAdmin();
});
