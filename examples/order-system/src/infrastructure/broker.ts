// Which broker the bus runs on is configuration, not code: the services only ever see a Bus. Each
// adapter package is imported only when chosen, so the in-memory setup loads no broker client.
import { type BrokerAdapter, createMemoryAdapter } from '@tidings/core';
import type { BrokerConfig } from '../config';

/**
 * Creates the adapter the configuration names.
 *
 * @example
 * ```ts
 * const adapter = await createBrokerAdapter({ kind: 'nats', url: 'nats://127.0.0.1:4222' });
 * const bus = createBus({ source: 'order-system', adapter });
 * ```
 */
export async function createBrokerAdapter(config: BrokerConfig): Promise<BrokerAdapter> {
  switch (config.kind) {
    case 'memory':
      return createMemoryAdapter();
    case 'nats': {
      const { createNatsAdapter } = await import('@tidings/adapter-nats');
      return createNatsAdapter({
        servers: config.url ?? '127.0.0.1:4222',
        // The prefix names the JetStream stream too (upper-cased), one per namespace.
        ...(config.namespace === undefined ? {} : { prefix: config.namespace }),
      });
    }
    case 'rabbitmq': {
      const { createRabbitMQAdapter } = await import('@tidings/adapter-rabbitmq');
      return createRabbitMQAdapter({
        url: config.url ?? 'amqp://guest:guest@127.0.0.1:5672',
        connectionName: 'order-system',
        // The exchange prefixes every queue name too: one namespace, one set of queues.
        ...(config.namespace === undefined ? {} : { exchange: config.namespace }),
      });
    }
    case 'kafka': {
      const { createKafkaAdapter } = await import('@tidings/adapter-kafka');
      // Kafka consumer groups are global to the cluster: GROUP_PREFIX keeps environments apart.
      return createKafkaAdapter({
        brokers: (config.url ?? '127.0.0.1:9092').split(','),
        clientId: 'order-system',
      });
    }
    case 'redis': {
      const { createRedisStreamsAdapter } = await import('@tidings/adapter-redis-streams');
      // Topics are stream keys: TOPIC_PREFIX, not a namespace, keeps copies of the app apart.
      return createRedisStreamsAdapter({
        connection: config.url ?? 'redis://127.0.0.1:6379',
        clientName: 'order-system',
      });
    }
  }
}

/** Where the broker is, for the startup banner. */
export function describeBroker(config: BrokerConfig): string {
  if (config.kind === 'memory')
    return 'the in-memory broker (nothing to install; events live in this process)';
  return `${config.kind} at ${config.url ?? 'its default local address'}`;
}
