import { randomUUID } from 'node:crypto';
import { createKafkaAdapter } from '@tidings/adapter-kafka';
import { describeAdapter } from '@tidings/conformance';
import { Kafka, logLevel } from 'kafkajs';
import { clusterAddresses } from './support/cluster';

// The conformance suite once against the three-node Kafka cluster: every topic of 3 replicas with
// min.insync.replicas=2, every adapter given all three brokers.
const brokers = clusterAddresses('kafka');
const namespace = `kc${randomUUID().slice(0, 8)}`;

describeAdapter({
  name: 'kafka (3-node cluster, RF 3)',
  namespace,
  createAdapter: () =>
    createKafkaAdapter({
      brokers,
      clientId: 'tidings-cluster-conformance',
      topics: { replicationFactor: 3, configs: { 'min.insync.replicas': '2' } },
      // As the adapter's own tests: a short session and quick fetches, so members come and go fast.
      consumer: {
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 500,
        rebalanceTimeoutMs: 20_000,
        maxWaitTimeMs: 100,
      },
    }),
  unicodeTopics: false,
  cleanup: async () => {
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const topics = (await admin.listTopics()).filter((name) => name.startsWith(namespace));
      if (topics.length > 0) await admin.deleteTopics({ topics });
    } finally {
      await admin.disconnect();
    }
  },
});
