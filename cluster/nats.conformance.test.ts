import { randomUUID } from 'node:crypto';
import { createNatsAdapter, type NatsAdapter } from '@tidings/adapter-nats';
import { describeAdapter } from '@tidings/conformance';
import { connect } from 'nats';
import { clusterAddresses } from './support/cluster';

// The conformance suite once against the three-node NATS cluster: every adapter given all three
// URLs, the stream of 3 replicas.
const servers = clusterAddresses('nats');
const prefix = `cc${randomUUID().slice(0, 8)}`;
const stream = prefix.toUpperCase();

describeAdapter({
  name: 'nats-jetstream (3-node cluster, R3)',
  createAdapter: () =>
    createNatsAdapter({ servers, prefix, stream: { name: stream, replicas: 3, maxAgeMs: 60 * 60 * 1000 } }),
  dropConnection: async (adapter) => {
    await (adapter as NatsAdapter).connection?.reconnect();
  },
  cleanup: async () => {
    const nc = await connect({ servers });
    try {
      await (await nc.jetstreamManager()).streams.delete(stream);
    } finally {
      await nc.close();
    }
  },
  unicodeTopics: true,
});
