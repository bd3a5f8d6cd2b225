import { describeAdapter } from '@tidings/conformance';
import { connect, type NatsConnection } from 'nats';
import { createNatsCoreAdapter, type NatsAdapter } from '../src/index';
import { NATS_URL, uniqueName } from './support/nats';
import { injectRaw, RAW_HEADERS } from './support/raw';

// Core NATS stores nothing: a prefix of this run's own keeps its traffic apart, and there is
// nothing to clean up on the server.
const prefix = uniqueName('tccore');

// The raw client of the hostile-input scenario: plain nats.js, as a foreign producer.
let raw: Promise<NatsConnection> | undefined;

describeAdapter({
  name: 'nats-core',
  createAdapter: () => createNatsCoreAdapter({ servers: NATS_URL, prefix }),
  dropConnection: async (adapter) => {
    await (adapter as NatsAdapter).connection?.reconnect();
  },
  cleanup: async () => {
    await (await raw)?.close();
  },
  unicodeTopics: true,
  // Core NATS is at most once, but the scenario injects only while its subscribers listen (the
  // bus has started, the dead-letter reader is subscribed) and waits for the server's round trip,
  // so on a healthy server every injected record reaches them; none is stored, and none needs to
  // be: the scenario's restart check expects nothing to come back.
  injectRaw: async (topic, records) => {
    raw ??= connect({ servers: NATS_URL });
    await injectRaw(await raw, { mode: 'core', prefix }, topic, records);
  },
  rawHeaders: RAW_HEADERS,
});
