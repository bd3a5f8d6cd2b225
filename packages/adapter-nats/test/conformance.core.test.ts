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
  skip: {
    // The scenario publishes while the group has no member and expects the records to wait for
    // it; core NATS delivers only to subscribers present at publish time. The capabilities say so
    // (durable, replay and redelivery false), but the suite does not gate this scenario on them.
    resume: 'core NATS keeps nothing for a group with no member (at-most-once, no persistence)',
  },
});
