import type { BrokerAdapter, SubscribeSpec } from '@tidings/core/adapter';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll } from 'vitest';
import { createRabbitMQAdapter, type RabbitMQAdapterOptions } from '../../src/index';
import { deleteTopology, RABBITMQ_URL, uniqueName } from './broker';

/** What a test file gets from {@link useBroker}. */
export interface BrokerFixture {
  /** The file's own exchange: every queue its adapters declare is named after it. */
  readonly exchange: string;
  /** A plain amqplib connection, to look at the broker from outside the adapter. */
  readonly raw: () => ChannelModel;
  /**
   * A connected adapter on the file's exchange. Its connections are named `<exchange> <role> (...)`,
   * so that `dropConnections(`${exchange} ${role} `)` finds them.
   */
  adapter(role?: string, options?: RabbitMQAdapterOptions): Promise<BrokerAdapter>;
  /** A subscribe spec with the defaults the tests use. */
  spec(group: string, topics: string[], concurrency?: number): SubscribeSpec;
}

/**
 * Registers the hooks of a test file that talks to RabbitMQ: one exchange of its own, and in
 * `afterAll` its adapters closed and every queue and exchange named after it deleted.
 */
export function useBroker(label: string): BrokerFixture {
  const exchange = uniqueName(label);
  const opened: BrokerAdapter[] = [];
  let connection: ChannelModel | undefined;

  beforeAll(async () => {
    connection = await connect(RABBITMQ_URL);
  });

  afterAll(async () => {
    await Promise.allSettled(opened.map((a) => a.close({ signal: AbortSignal.timeout(5_000) })));
    await connection?.close();
    await deleteTopology(exchange);
  });

  return {
    exchange,
    raw: () => connection!,
    async adapter(role = 'test', options = {}) {
      const created = createRabbitMQAdapter({
        url: RABBITMQ_URL,
        exchange,
        connectionName: `${exchange} ${role}`,
        ...options,
      });
      opened.push(created);
      await created.connect();
      return created;
    },
    spec: (group, topics, concurrency = 8) => ({
      group,
      topics,
      concurrency,
      prefetch: concurrency,
      ordering: 'none',
      startFrom: 'latest',
      maxAttempts: 5,
      handlerTimeoutMs: 5_000,
    }),
  };
}
