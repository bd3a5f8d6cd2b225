import { describeAdapter } from '@tidings/conformance';
import type { BrokerAdapter } from '@tidings/core/adapter';
import { createRabbitMQAdapter, type RabbitMQAdapterOptions } from '../src/index';
import { deleteTopology, dropConnections, RABBITMQ_URL, uniqueName } from './support/broker';

/** Runs the suite on an exchange of its own: every queue it makes is named after it, and deleted with it. */
function conformance(name: string, options: RabbitMQAdapterOptions): void {
  const exchange = uniqueName(name.replace(/\W+/g, '-'));
  const connectionNames = new WeakMap<BrokerAdapter, string>();
  let adapters = 0;
  describeAdapter({
    name,
    createAdapter: () => {
      const connectionName = `${exchange} #${++adapters}`;
      const adapter = createRabbitMQAdapter({ ...options, url: RABBITMQ_URL, exchange, connectionName });
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
}

conformance('rabbitmq', {});
// Classic queues are the lighter option: no broker-side delivery count, the rest alike.
conformance('rabbitmq (classic queues)', { queueType: 'classic' });
