import { describeAdapter, type RawRecord } from '@tidings/conformance';
import type { BrokerAdapter } from '@tidings/core/adapter';
import { type ChannelModel, connect } from 'amqplib';
import { createRabbitMQAdapter, type RabbitMQAdapterOptions } from '../src/index';
import { deleteTopology, dropConnections, RABBITMQ_URL, uniqueName } from './support/broker';

/**
 * Writes records as a foreign AMQP producer would, with amqplib alone: to the adapter's exchange,
 * routing key = topic, each header an AMQP header (the `cloudEvents:` attributes included, as the
 * CloudEvents AMQP binding has them), `content-type` as the message property, the key in the
 * `tidings-key` header where the adapter reads keys.
 */
function rawInjector(exchange: string): {
  inject: (topic: string, records: readonly RawRecord[]) => Promise<void>;
  close: () => Promise<void>;
} {
  let connection: Promise<ChannelModel> | undefined;
  return {
    async inject(topic, records) {
      connection ??= connect(RABBITMQ_URL);
      const channel = await (await connection).createConfirmChannel();
      try {
        for (const record of records) {
          // Prototype-free, so that a header named `__proto__` goes on the wire as one.
          const headers: Record<string, string> = Object.create(null) as Record<string, string>;
          let contentType: string | undefined;
          for (const name of Object.keys(record.headers)) {
            const value = record.headers[name]!;
            // RabbitMQ reads `CC` and `BCC` as sender-selected routing and closes the channel (406)
            // unless they are arrays: no foreign producer can write them as strings, so neither does this.
            if (name === 'CC' || name === 'BCC') continue;
            if (name === 'content-type' && Buffer.byteLength(value) <= 255) contentType = value;
            else headers[name] = value;
          }
          headers['tidings-key'] = record.key;
          channel.publish(exchange, topic, Buffer.from(record.body), {
            headers,
            persistent: true,
            ...(contentType === undefined ? {} : { contentType }),
          });
        }
        await channel.waitForConfirms();
      } finally {
        await channel.close();
      }
    },
    async close() {
      await (await connection)?.close();
    },
  };
}

/** Runs the suite on an exchange of its own: every queue it makes is named after it, and deleted with it. */
function conformance(name: string, options: RabbitMQAdapterOptions): void {
  const exchange = uniqueName(name.replace(/\W+/g, '-'));
  const connectionNames = new WeakMap<BrokerAdapter, string>();
  const raw = rawInjector(exchange);
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
    injectRaw: raw.inject,
    // amqplib drops a header named `__proto__` when it decodes a table: no client of ours can carry it.
    rawHeaders: { name: (header) => header !== '__proto__' },
    cleanup: async () => {
      await raw.close();
      await deleteTopology(exchange);
    },
  });
}

conformance('rabbitmq', {});
// Classic queues are the lighter option: no broker-side delivery count, the rest alike.
conformance('rabbitmq (classic queues)', { queueType: 'classic' });
