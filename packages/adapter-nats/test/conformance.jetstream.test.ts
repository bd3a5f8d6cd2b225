import { describeAdapter } from '@tidings/conformance';
import { connect, type NatsConnection } from 'nats';
import { createNatsAdapter, type NatsAdapter } from '../src/index';
import { deleteStream, NATS_URL, uniqueName } from './support/nats';
import { injectRaw, RAW_HEADERS } from './support/raw';

// A prefix and stream of this run's own: the server is shared, and the stream is deleted at the end.
const prefix = uniqueName('tcjs');
const stream = prefix.toUpperCase();

// The raw client of the hostile-input scenario: plain nats.js, as a foreign producer.
let raw: Promise<NatsConnection> | undefined;

describeAdapter({
  name: 'nats-jetstream',
  createAdapter: () =>
    createNatsAdapter({ servers: NATS_URL, prefix, stream: { name: stream, maxAgeMs: 60 * 60 * 1000 } }),
  // Forces the client to drop its socket and reconnect, as a broker restart would.
  dropConnection: async (adapter) => {
    await (adapter as NatsAdapter).connection?.reconnect();
  },
  cleanup: async () => {
    await (await raw)?.close();
    await deleteStream(stream);
  },
  unicodeTopics: true,
  // Published to the partition subject the key picks, stored by the stream, read by the groups.
  injectRaw: async (topic, records) => {
    raw ??= connect({ servers: NATS_URL });
    await injectRaw(await raw, { mode: 'jetstream', prefix, partitions: 8 }, topic, records);
  },
  rawHeaders: RAW_HEADERS,
});
