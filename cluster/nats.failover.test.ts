import { randomUUID } from 'node:crypto';
import { createNatsAdapter } from '@tidings/adapter-nats';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LocalCluster } from './support/cluster';
import { failoverEvents, failoverTable, runFailover } from './support/failover';

// NATS JetStream on three nodes: a stream of 3 replicas (its consumers follow), the adapter given
// every node's URL. The node that leads the stream is SIGKILLed halfway through.
let cluster: LocalCluster;
let admin: NatsConnection;
const prefix = `failover-${randomUUID().slice(0, 8)}`;
const stream = prefix.toUpperCase().replace(/-/g, '_');

beforeAll(async () => {
  cluster = await LocalCluster.open('nats');
  admin = await connect({ servers: cluster.addresses, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
});

afterAll(async () => {
  try {
    await (await admin.jetstreamManager()).streams.delete(stream);
  } catch {
    // The stream is gone with a wiped cluster too.
  }
  await admin?.close();
});

test('a stream of 3 replicas loses no acknowledged event when its leader is SIGKILLed', async () => {
  const options = {
    servers: cluster.addresses,
    prefix,
    stream: { name: stream, replicas: 3 },
    partitions: 4,
  } as const;
  const publisher = createNatsAdapter(options);
  const consumer = createNatsAdapter(options);
  try {
    const result = await runFailover({
      broker: 'NATS JetStream (R3)',
      events: failoverEvents(),
      topic: 'failover',
      group: 'failover-group',
      publisher,
      consumer,
      leader: async () => {
        const info = await (await admin.jetstreamManager()).streams.info(stream);
        const name = info.cluster?.leader;
        if (name === undefined || !/^n\d+$/.test(name)) throw new Error(`no stream leader (${String(name)})`);
        return Number(name.slice(1));
      },
      kill: (node) => cluster.kill(node),
      restart: () => cluster.restart(),
      drainTimeoutMs: 120_000,
    });
    console.log(`\n${failoverTable([result])}\n(node n${result.killedNode} killed)`);
    expect(result.lost).toBe(0);
    expect(result.acknowledged).toBe(failoverEvents());
    expect(result.handled).toBe(result.acknowledged);
  } finally {
    await Promise.all([publisher.close(), consumer.close()]);
  }
});
