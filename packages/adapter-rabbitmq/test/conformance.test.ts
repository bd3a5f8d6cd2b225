import { describeAdapter } from '@tidings/conformance';
import type { BrokerAdapter } from '@tidings/core/adapter';
import { createRabbitMQAdapter } from '../src/index';
import { deleteTopology, dropConnections, RABBITMQ_URL, uniqueName } from './support/broker';

// One exchange for the whole run: every queue the suite makes is named after it, and deleted with it.
const exchange = uniqueName('conformance');
const connectionNames = new WeakMap<BrokerAdapter, string>();
let adapters = 0;

describeAdapter({
  name: 'rabbitmq',
  createAdapter: () => {
    const connectionName = `${exchange} #${++adapters}`;
    const adapter = createRabbitMQAdapter({ url: RABBITMQ_URL, exchange, connectionName });
    connectionNames.set(adapter, connectionName);
    return adapter;
  },
  unicodeTopics: true,
  dropConnection: async (adapter) => {
    // The trailing space keeps "#1" from matching "#12".
    const dropped = await dropConnections(`${connectionNames.get(adapter)!} `);
    if (dropped === 0) throw new Error('the adapter has no connection to drop');
  },
  cleanup: () => deleteTopology(exchange),
});
