// The Tidings side of every broker benchmark: bus.publish and bus.subscribe over the broker's
// adapter, with validation on both sides, the CloudEvents envelope and the default policies
// (retry, dead letter, handler timeout) on, exactly as an application would use them.
import { type BrokerAdapter, type Bus, createBus, type SubscribeOptions } from '@tidings/core';
import type { Lane, LaneTarget } from './driver';
import { benchContract } from './event';

/** Settings of {@link createTidingsLane}. */
export interface TidingsLaneOptions {
  /** A new adapter for one bus; `role` tells publisher from consumer (a connection each). */
  readonly adapter: (role: 'publish' | 'consume') => BrokerAdapter;
  /** The topic of scenario `name`: unique to this run, and legal on the broker. */
  readonly topic: (name: string) => string;
  /** The consumer group of every subscription. Default `bench` (each topic is the run's own). */
  readonly group?: string;
  /** Concurrency and ordering of the subscriptions, to match what the raw consumer does. */
  readonly subscription?: Pick<SubscribeOptions, 'concurrency' | 'ordering'>;
  /**
   * Subscribe the group, and stop it again, before publishing to a target: a broker that drops
   * what no queue is bound for yet (RabbitMQ) then stores the backlog for the consumer.
   */
  readonly declareGroupFirst?: boolean;
  /** Deletes what the buses made for `topics`, unless the broker's benchmark sweeps by prefix. */
  readonly cleanup?: (topics: readonly string[]) => Promise<void>;
}

/**
 * A {@link Lane} through Tidings: one bus publishes, another consumes.
 *
 * @example
 * ```ts
 * const tidings = createTidingsLane({ adapter: () => createNatsAdapter({ prefix }), topic: (name) => name });
 * ```
 */
export function createTidingsLane(options: TidingsLaneOptions): Lane<'tidings'> {
  const topics: string[] = [];
  let publisher: Bus | undefined;
  let consumer: Bus | undefined;
  const subscribeOptions: SubscribeOptions = {
    group: options.group ?? 'bench',
    startFrom: 'earliest',
    ...options.subscription,
  };

  return {
    impl: 'tidings',
    async open() {
      publisher = createBus({ source: 'bench', adapter: options.adapter('publish') });
      consumer = createBus({ source: 'bench', adapter: options.adapter('consume') });
      await publisher.start();
      await consumer.start();
    },
    async prepare(name): Promise<LaneTarget> {
      if (publisher === undefined || consumer === undefined) throw new Error('open the lane first');
      const bus = { publisher, consumer };
      const topic = options.topic(name);
      topics.push(topic);
      const contract = benchContract(topic);
      if (options.declareGroupFirst === true) {
        const declaring = consumer.subscribe(contract, subscribeOptions, () => undefined);
        await declaring.ready;
        await declaring.stop();
      }
      return {
        async publish(event) {
          await bus.publisher.publish(contract, event);
        },
        async consume(onEvent) {
          const subscription = bus.consumer.subscribe(contract, subscribeOptions, (event) =>
            onEvent(event.data),
          );
          await subscription.ready;
          return { stop: () => subscription.stop() };
        },
      };
    },
    async close() {
      const stopped = await Promise.allSettled([publisher?.stop(), consumer?.stop()]);
      await options.cleanup?.(topics);
      for (const result of stopped) if (result.status === 'rejected') throw result.reason;
    },
  };
}
