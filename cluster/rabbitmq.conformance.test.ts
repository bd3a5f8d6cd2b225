import { randomUUID } from 'node:crypto';
import { createRabbitMQAdapter } from '@tidings/adapter-rabbitmq';
import { describeAdapter } from '@tidings/conformance';
import type { BrokerAdapter } from '@tidings/core/adapter';
import { connect } from 'amqplib';
import { clusterAddresses, LocalCluster } from './support/cluster';

// The conformance suite once against the three-node RabbitMQ cluster: every adapter given all
// three nodes, its queues quorum queues (the adapter's default) with a member on each node.
const url = clusterAddresses('rabbitmq').map((address) => `amqp://guest:guest@${address}`);
const exchange = `cc-${randomUUID().slice(0, 8)}`;
const connectionNames = new WeakMap<BrokerAdapter, string>();
let adapters = 0;

/** rabbitmqctl on a node of the cluster (the shared broker is never asked). */
async function ctl(...args: string[]): Promise<string> {
  return (await LocalCluster.open('rabbitmq')).command('ctl', ...args);
}

describeAdapter({
  name: 'rabbitmq (3-node cluster, quorum queues)',
  createAdapter: () => {
    const connectionName = `${exchange} #${++adapters}`;
    const adapter = createRabbitMQAdapter({
      url,
      exchange,
      connectionName,
      // The default would ask port 15672 of the first node's host: the shared broker's API here.
      management: false,
    });
    connectionNames.set(adapter, connectionName);
    return adapter;
  },
  dropConnection: async (adapter) => {
    // The trailing space keeps "#1" from matching "#12".
    const prefix = `${connectionNames.get(adapter)!} `;
    const listing = await ctl('list_connections', '--no-table-headers', 'pid', 'client_properties');
    const pids: string[] = [];
    for (const line of listing.split('\n')) {
      const match = /^(<[^>]+>)\t.*\{"connection_name","([^"]*)"\}/.exec(line);
      if (match !== null && match[2]!.startsWith(prefix)) pids.push(match[1]!);
    }
    if (pids.length === 0) throw new Error('the adapter has no connection to drop');
    for (const pid of pids) await ctl('close_connection', pid, 'tidings test: dropped on purpose');
  },
  cleanup: async () => {
    const [queues, exchanges] = await Promise.all([
      ctl('list_queues', '--no-table-headers', 'name'),
      ctl('list_exchanges', '--no-table-headers', 'name'),
    ]);
    const ours = (listing: string): string[] =>
      listing
        .split('\n')
        .map((line) => line.trim())
        .filter(
          (name) => name === exchange || name.startsWith(`${exchange}/`) || name.startsWith(`${exchange}.`),
        );
    const connection = await connect(url[0]!);
    try {
      const channel = await connection.createChannel();
      for (const queue of ours(queues)) await channel.deleteQueue(queue);
      for (const name of ours(exchanges)) await channel.deleteExchange(name);
      await channel.close();
    } finally {
      await connection.close();
    }
  },
  unicodeTopics: true,
});
