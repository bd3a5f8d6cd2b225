/**
 * The optional parts of the adapter contract: what some adapters' brokers can tell and others
 * cannot. The bus looks for them at run time (`reportsLag`, `reportsConnectionState`); an adapter
 * that implements one declares it by implementing the interface.
 *
 * @module
 */
import type { ConnectionState } from './contract';

/**
 * How far one consumer group is behind on one topic.
 *
 * @example
 * ```ts
 * const lag: ConsumerLag = { topic: 'order.placed', messages: 1_250 };
 * ```
 */
export interface ConsumerLag {
  readonly topic: string;
  /** Records published to the topic that the group has not settled yet. */
  readonly messages: number;
}

/**
 * An optional capability of an adapter's subscription: telling how far its consumer group is
 * behind (Kafka: log-end offset minus committed offset; RabbitMQ: ready messages of the queue;
 * JetStream: the consumer's pending count; Redis Streams: the group's `lag`). When the
 * subscription returned by `adapter.subscribe` has this method, the bus reports it as the
 * `tidings.consumer.lag` gauge each time metrics are collected.
 *
 * @example
 * ```ts
 * class MySubscription implements AdapterSubscription, ConsumerLagReporter {
 *   async lag() {
 *     const { pending } = await this.client.consumerInfo(this.group);
 *     return [{ topic: this.topic, messages: pending }];
 *   }
 *   // ...the AdapterSubscription members
 * }
 * ```
 */
export interface ConsumerLagReporter {
  lag(): Promise<readonly ConsumerLag[]>;
}

/** @internal Whether an adapter subscription reports its lag. */
export function reportsLag(subscription: unknown): subscription is ConsumerLagReporter {
  return typeof (subscription as Partial<ConsumerLagReporter> | undefined)?.lag === 'function';
}

/**
 * An optional capability of an adapter: telling the bus when its connection state changes (a lost
 * connection, a reconnect, a final failure), so that the bus can log it with the adapter's name.
 * The listener is called after `adapter.state` changed; the returned function stops the calls.
 *
 * @example
 * ```ts
 * class MyAdapter implements BrokerAdapter, ConnectionStateReporter {
 *   private readonly listeners = new Set<(state: ConnectionState, error?: Error) => void>();
 *   onStateChange(listener: (state: ConnectionState, error?: Error) => void) {
 *     this.listeners.add(listener);
 *     return () => this.listeners.delete(listener);
 *   }
 *   // ...call each listener where the state changes, and the BrokerAdapter members
 * }
 * ```
 */
export interface ConnectionStateReporter {
  onStateChange(listener: (state: ConnectionState, error?: Error) => void): () => void;
}

/** @internal Whether an adapter reports its connection state changes. */
export function reportsConnectionState(adapter: unknown): adapter is ConnectionStateReporter {
  return typeof (adapter as Partial<ConnectionStateReporter> | undefined)?.onStateChange === 'function';
}
