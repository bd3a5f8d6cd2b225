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
