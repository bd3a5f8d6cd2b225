import { createMemoryAdapter, createMemoryBroker } from '@tidings/core';
import { describeAdapter } from '../src/index';

// Every adapter made by the factory connects to this one broker, as processes share a server.
const broker = createMemoryBroker();

describeAdapter({
  name: 'memory',
  createAdapter: () => createMemoryAdapter({ broker }),
  unicodeTopics: true,
});
