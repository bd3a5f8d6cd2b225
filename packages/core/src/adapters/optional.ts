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
 * behind (Kafka: log-end offset minus committed offset; RabbitMQ: the queue's ready messages plus
 * the deliveries the subscription holds; JetStream: the consumer's pending count; Redis Streams:
 * the group's `lag`). When the
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

/**
 * What a broker tells of one consumer group on one topic. A figure the broker cannot give is
 * `undefined`, never a guess.
 *
 * @example
 * ```ts
 * const group: GroupDescription = { topic: 'order.placed', group: 'billing', lag: 12, pending: 3, members: 2, state: 'active' };
 * ```
 */
export interface GroupDescription {
  readonly topic: string;
  readonly group: string;
  /** Records published to the topic that the group has not settled yet (as {@link ConsumerLag}). */
  readonly lag: number | undefined;
  /** Records delivered to the group's members and not settled yet. */
  readonly pending: number | undefined;
  /** Consumers connected to the broker for the group now. */
  readonly members: number | undefined;
  /**
   * `active`: at least one member is connected; `idle`: the group exists with no member (its
   * position is kept); `unknown`: the broker does not say.
   */
  readonly state: 'active' | 'idle' | 'unknown';
}

/**
 * An optional capability of an adapter: listing the consumer groups of topics with their lag, and
 * removing a group the application no longer needs (a `tidings tail` group, a retired projection).
 * Both may be called from any process, concurrently with publishing and consuming.
 *
 * @example
 * ```ts
 * class MyAdapter implements BrokerAdapter, GroupAdmin {
 *   async describeGroups(topics: readonly string[]) {
 *     return (await this.client.groups(topics)).map((g) => ({ ...g, state: 'unknown' as const }));
 *   }
 *   async deleteGroup(topic: string, group: string) {
 *     return this.client.deleteGroup(topic, group);
 *   }
 *   // ...the BrokerAdapter members
 * }
 * ```
 */
export interface GroupAdmin {
  /**
   * The groups that consume each of `topics` (the adapter's own retry and dead-letter topics are
   * not listed as topics of their own), in topic order then group name order. A topic that does
   * not exist has no groups.
   */
  describeGroups(topics: readonly string[]): Promise<readonly GroupDescription[]>;
  /**
   * Removes `group`'s state for `topic` on the broker (its position, its pending records, and the
   * adapter's own retry state for it); resolves with whether there was such a group. Rejects with a
   * `ConfigError` naming `group` while the group still has members connected, where the broker
   * refuses that.
   */
  deleteGroup(topic: string, group: string): Promise<boolean>;
}

/** @internal Whether an adapter lists and removes consumer groups. */
export function administersGroups(adapter: unknown): adapter is GroupAdmin {
  const admin = adapter as Partial<GroupAdmin> | undefined;
  return typeof admin?.describeGroups === 'function' && typeof admin.deleteGroup === 'function';
}
