import { randomUUID } from 'node:crypto';
import { createRabbitMQAdapter, workQueueName } from '@tidings/adapter-rabbitmq';
import { connect } from 'amqplib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LocalCluster } from './support/cluster';
import { failoverEvents, failoverTable, runFailover } from './support/failover';

// RabbitMQ on three nodes: the group's queue a quorum queue (the adapter's default), which RabbitMQ
// 3.10 gives a member on every node of the cluster when it is declared (no
// x-quorum-initial-group-size), the adapter given every node. A publish resolves on the publisher
// confirm, which a quorum queue sends once a majority of its members have the message. The node
// that leads the queue is SIGKILLed halfway through. The queue is declared through a connection to
// the first node, where its leader then lives (client-local placement) and where both adapters
// connect first: the kill takes the leader and both connections at once.
let cluster: LocalCluster;
let url: string[];
const exchange = `failover-${randomUUID().slice(0, 8)}`;
const topic = 'failover';
const group = 'failover-group';
const queue = workQueueName(exchange, group, topic);

beforeAll(async () => {
  cluster = await LocalCluster.open('rabbitmq');
  url = cluster.addresses.map((address) => `amqp://guest:guest@${address}`);
});

afterAll(async () => {
  // A node the test killed may still be coming back: the rest of the cluster answers meanwhile.
  for (const node of url ?? []) {
    try {
      const connection = await connect(node);
      try {
        const channel = await connection.createChannel();
        const listing = await cluster.command('ctl', 'list_queues', '--no-table-headers', 'name');
        for (const name of listing.split('\n').map((line) => line.trim())) {
          if (name.startsWith(`${exchange}/`) || name.startsWith(`${exchange}.`))
            await channel.deleteQueue(name);
        }
        await channel.deleteExchange(exchange);
        await channel.close();
      } finally {
        await connection.close();
      }
      return;
    } catch {
      // That node is down; the next one may answer. The queues go with a wiped cluster too.
    }
  }
});

/** The queue's members, as node numbers: the quorum queue's replicas. */
async function members(): Promise<number[]> {
  const listing = await cluster.command('ctl', 'list_queues', '--no-table-headers', 'name', 'members');
  const line = listing.split('\n').find((l) => l.startsWith(`${queue}\t`));
  if (line === undefined) throw new Error(`no queue ${queue}:\n${listing}`);
  return cluster.nodes.filter((node) => line.includes(node.name!)).map((node) => node.node);
}

test('a quorum queue on 3 nodes loses no acknowledged event when its leader is SIGKILLed', async () => {
  const options = {
    url,
    exchange,
    // The default would ask port 15672 of the first node's host: the shared broker's API here.
    management: false,
    // A publish waits for a connection to a live node and a confirm from the queue's new leader.
    publishTimeoutMs: 30_000,
  } as const;
  const publisher = createRabbitMQAdapter({ ...options, connectionName: `${exchange} publisher` });
  const consumer = createRabbitMQAdapter({ ...options, connectionName: `${exchange} consumer` });
  let replicas: number[] = [];
  // Why publishes failed, counted, for the report: a nack reads differently from a lost channel.
  const failures = new Map<string, number>();
  const publish = publisher.publish.bind(publisher);
  Object.assign(publisher, {
    publish: async (records: Parameters<typeof publish>[0]) => {
      try {
        await publish(records);
      } catch (error) {
        const reason = (error as Error).message.replace(/\d+/g, 'N');
        failures.set(reason, (failures.get(reason) ?? 0) + 1);
        throw error;
      }
    },
  });
  try {
    const result = await runFailover({
      broker: 'RabbitMQ (quorum queue, 3 members)',
      events: failoverEvents(),
      topic,
      group,
      publisher,
      consumer,
      leader: async () => {
        replicas = await members();
        return Number((await cluster.command('leader', queue)).trim());
      },
      kill: (node) => cluster.kill(node),
      restart: () => cluster.restart(),
      drainTimeoutMs: 120_000,
    });
    console.log(
      `\n${failoverTable([result])}\n(node ${result.killedNode} killed; the queue's members: nodes ${replicas.join(', ')})`,
      ...[...failures].map(([reason, count]) => `\n${count} × ${reason}`),
    );
    expect(replicas).toEqual([1, 2, 3]);
    expect(result.lost).toBe(0);
    expect(result.acknowledged).toBe(failoverEvents());
    expect(result.handled).toBe(result.acknowledged);
  } finally {
    await Promise.all([publisher.close(), consumer.close()]);
  }
});
