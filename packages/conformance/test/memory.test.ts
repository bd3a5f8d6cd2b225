import { createMemoryAdapter, createMemoryBroker } from '@tidings/core';
import { describeAdapter } from '../src/index';

// Every adapter made by the factory connects to this one broker, as processes share a server.
const broker = createMemoryBroker();

describeAdapter({
  name: 'memory',
  createAdapter: () => createMemoryAdapter({ broker }),
  unicodeTopics: true,
  // The in-process broker is its own raw client: records go in without the adapter's checks.
  injectRaw: (topic, records) =>
    broker.publish(
      records.map((record) => ({ topic, key: record.key, headers: record.headers, body: record.body })),
    ),
});
