// The broker, from the configuration: the in-memory one by default (no setup), NATS JetStream with
// BROKER=nats. Other brokers are one adapter away (@tidings/adapter-kafka, -rabbitmq, -redis-streams).
import type { ConfigService } from '@nestjs/config';
import { createNatsAdapter } from '@tidings/adapter-nats';
import { type BrokerAdapter, createMemoryAdapter } from '@tidings/core';

export function createAdapter(config: ConfigService): BrokerAdapter {
  const broker = config.get<string>('BROKER', 'memory');
  switch (broker) {
    case 'memory':
      return createMemoryAdapter();
    case 'nats':
      return createNatsAdapter({
        servers: config.get<string>('NATS_URL', '127.0.0.1:4222'),
        prefix: config.get<string>('NATS_PREFIX', 'orders'),
      });
    default:
      throw new Error(`BROKER must be memory or nats, not "${broker}"`);
  }
}
