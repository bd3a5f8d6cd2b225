import { describeAdapter } from '@tidings/conformance';
import { createNatsAdapter, type NatsAdapter } from '../src/index';
import { deleteStream, NATS_URL, uniqueName } from './support/nats';

// A prefix and stream of this run's own: the server is shared, and the stream is deleted at the end.
const prefix = uniqueName('tcjs');
const stream = prefix.toUpperCase();

describeAdapter({
  name: 'nats-jetstream',
  createAdapter: () =>
    createNatsAdapter({ servers: NATS_URL, prefix, stream: { name: stream, maxAgeMs: 60 * 60 * 1000 } }),
  // Forces the client to drop its socket and reconnect, as a broker restart would.
  dropConnection: async (adapter) => {
    await (adapter as NatsAdapter).connection?.reconnect();
  },
  cleanup: () => deleteStream(stream),
  unicodeTopics: true,
});
