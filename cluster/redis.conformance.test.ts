import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '@tidings/adapter-redis-streams';
import { describeAdapter } from '@tidings/conformance';
import { afterAll } from 'vitest';
import { encodeFields } from '../packages/adapter-redis-streams/src/codec';
import { clusterAddresses } from './support/cluster';
import { clusterAdmin, deleteClusterKeys, killClusterConnections } from './support/redis';

// The conformance suite once against the local Redis Cluster (three primaries, three replicas):
// every adapter given the nodes, each publish waiting for one replica (WAIT 1), as the failover
// test's acknowledged-means-replicated runs do.
const nodes = clusterAddresses('redis');
const namespace = `cc-redis-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const admin = clusterAdmin(nodes);

afterAll(async () => {
  await admin.quit().catch(() => admin.disconnect());
});

describeAdapter({
  name: 'redis-streams (Redis Cluster, 3 primaries + 3 replicas)',
  namespace,
  createAdapter: () =>
    createRedisStreamsAdapter({
      cluster: { nodes },
      waitForReplicas: { replicas: 1, timeoutMs: 2_000 },
    }),
  // Cuts the adapter's connections to every node, the command connections and the readers'.
  dropConnection: async (adapter) => {
    await killClusterConnections(admin, (adapter as RedisStreamsAdapter).connectionName);
  },
  unicodeTopics: true,
  // As the single-server suite's raw producer, into the topic's cluster stream `{<topic>}`.
  injectRaw: async (topic, records) => {
    if (admin.status === 'wait') await admin.connect();
    for (const record of records) {
      const fields = encodeFields({ key: record.key, headers: record.headers, body: record.body });
      fields.push('$tidings-future', 'ignored', 'x-raw-bytes', Buffer.from([0xff, 0xfe, 0xc3, 0x28]));
      await admin.xaddBuffer(`{${topic}}`, '*', ...fields);
    }
  },
  cleanup: async () => {
    await deleteClusterKeys(admin, `*${namespace}*`);
  },
});
