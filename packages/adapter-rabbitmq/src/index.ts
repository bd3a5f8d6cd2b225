/**
 * RabbitMQ adapter for Tidings, on amqplib.
 *
 * @module @tidings/adapter-rabbitmq
 */
// '@tidings/adapter-rabbitmq': the RabbitMQ adapter, on amqplib.

export type { RabbitMQAdapter } from './adapter';
export { createRabbitMQAdapter, rabbitmqCapabilities } from './adapter';
export { delayLevelName, workQueueName } from './names';
export type {
  AmqpAddress,
  ManagementOptions,
  QueueType,
  RabbitMQAdapterOptions,
  ReconnectOptions,
} from './options';
