import { describeAdapter } from '@tidings/conformance';
import { createNatsCoreAdapter, type NatsAdapter } from '../src/index';
import { NATS_URL, uniqueName } from './support/nats';

// Core NATS stores nothing: a prefix of this run's own keeps its traffic apart, and there is
// nothing to clean up on the server.
const prefix = uniqueName('tccore');

describeAdapter({
  name: 'nats-core',
  createAdapter: () => createNatsCoreAdapter({ servers: NATS_URL, prefix }),
  dropConnection: async (adapter) => {
    await (adapter as NatsAdapter).connection?.reconnect();
  },
  unicodeTopics: true,
});
