// The Tidings side of every broker benchmark: bus.publish and bus.subscribe over the broker's
// adapter, with validation on both sides, the CloudEvents envelope and the default policies
// (retry, dead letter, handler timeout) on, exactly as an application would use them. Two lanes:
// `default` subscribes with no options but the group and where to start (what a user gets first),
// `tuned` with the concurrency, prefetch and ordering that match the raw consumer.
import { type BrokerAdapter, type Bus, createBus, type SubscribeOptions } from '@tidings/core';
import { BATCH_SIZE, BATCH_WAIT_MS, type Lane, type LaneTarget, type TidingsLanes } from './driver';
import { type BenchEvent, benchContract } from './event';
import type { TidingsLaneName } from './result';

/** Settings of {@link createTidingsLanes}. */
export interface TidingsLaneOptions {
  /** A new adapter for one bus; `role` tells publisher from consumer (a connection each). */
  readonly adapter: (role: 'publish' | 'consume') => BrokerAdapter;
  /** The topic of scenario `name` (it starts with the lane's name): unique to this run, and legal on the broker. */
  readonly topic: (name: string) => string;
  /**
   * The consumer group of every subscription, followed by `-<lane>` so that the two lanes never
   * share a group (on Kafka, members of one group on different topics would rebalance each other).
   * Default `bench` (each topic is the run's own).
   */
  readonly group?: string;
  /** Concurrency, prefetch and ordering of the tuned lane's subscriptions, to match what the raw consumer does. */
  readonly tuned?: Pick<SubscribeOptions, 'concurrency' | 'prefetch' | 'ordering'>;
  /**
   * Subscribe the group, and stop it again, before publishing to a target: a broker that drops
   * what no queue is bound for yet (RabbitMQ) then stores the backlog for the consumer.
   */
  readonly declareGroupFirst?: boolean;
  /**
   * Makes a scenario's topic before it is measured, as the raw lanes make theirs: without it the
   * adapter creates the topic on the first publish, inside the publish scenario's clock (on Kafka a
   * CreateTopics and the wait for its leaders, a tenth of a second or more of a half-second round).
   */
  readonly createTopic?: (topic: string) => Promise<void>;
  /** Deletes what a lane's buses made for `topics` in `group`, unless the broker's benchmark sweeps by prefix. */
  readonly cleanup?: (topics: readonly string[], group: string) => Promise<void>;
}

/** The contract every lane subscribes to (a bench event on one topic). */
type BenchContract = ReturnType<typeof benchContract>;

/**
 * What the batch lane needs of a bus: `subscribeBatch` as core is adding it, in the one call shape
 * the benchmark uses. Typed here, not imported, so that the benchmark builds before and after core
 * has it; {@link batchSubscriber} finds it at run time.
 */
interface BatchSubscriber {
  subscribeBatch(
    contract: BenchContract,
    options: {
      readonly group: string;
      readonly startFrom: 'earliest';
      readonly batch: { readonly maxSize: number; readonly maxWaitMs: number };
    },
    handler: (events: readonly { readonly data: BenchEvent }[]) => void,
  ): { readonly ready: Promise<void>; stop(): Promise<void> };
}

/**
 * `bus` as a {@link BatchSubscriber} when its core has `subscribeBatch`, else undefined (then the
 * Tidings lanes have no consume-batch row). Once core exports it, `bus` itself will do.
 *
 * @example
 * ```ts
 * const batches = batchSubscriber(bus);
 * batches?.subscribeBatch(contract, { group, startFrom: 'earliest', batch: { maxSize: 100, maxWaitMs: 50 } }, onEvents);
 * ```
 */
export function batchSubscriber(bus: Bus): BatchSubscriber | undefined {
  if (!('subscribeBatch' in bus) || typeof bus.subscribeBatch !== 'function') return undefined;
  return bus as unknown as BatchSubscriber;
}

/** One Tidings lane; `subscription` is what its subscriptions add to the group and start. */
function tidingsLane(
  name: TidingsLaneName,
  options: TidingsLaneOptions,
  subscription: Pick<SubscribeOptions, 'concurrency' | 'prefetch' | 'ordering'>,
  withBatches: boolean,
): Lane<'tidings'> {
  const topics: string[] = [];
  const group = `${options.group ?? 'bench'}-${name}`;
  let publisher: Bus | undefined;
  let consumer: Bus | undefined;
  const subscribeOptions: SubscribeOptions = { group, startFrom: 'earliest', ...subscription };

  return {
    impl: 'tidings',
    name,
    async open() {
      publisher = createBus({ source: 'bench', adapter: options.adapter('publish') });
      consumer = createBus({ source: 'bench', adapter: options.adapter('consume') });
      await publisher.start();
      await consumer.start();
    },
    async prepare(scenario): Promise<LaneTarget> {
      if (publisher === undefined || consumer === undefined) throw new Error('open the lane first');
      const bus = { publisher, consumer };
      const topic = options.topic(`${name}-${scenario}`);
      topics.push(topic);
      const contract = benchContract(topic);
      await options.createTopic?.(topic);
      if (options.declareGroupFirst === true) {
        const declaring = consumer.subscribe(contract, subscribeOptions, () => undefined);
        await declaring.ready;
        await declaring.stop();
      }
      const batches = withBatches ? batchSubscriber(consumer) : undefined;
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
        ...(batches === undefined
          ? {}
          : {
              async consumeBatch(onEvents: (events: readonly BenchEvent[]) => void) {
                const subscription = batches.subscribeBatch(
                  contract,
                  { group, startFrom: 'earliest', batch: { maxSize: BATCH_SIZE, maxWaitMs: BATCH_WAIT_MS } },
                  (events) => onEvents(events.map((event) => event.data)),
                );
                await subscription.ready;
                return { stop: () => subscription.stop() };
              },
            }),
      };
    },
    async close() {
      const stopped = await Promise.allSettled([publisher?.stop(), consumer?.stop()]);
      await options.cleanup?.(topics, group);
      for (const result of stopped) if (result.status === 'rejected') throw result.reason;
    },
  };
}

/**
 * The two Tidings lanes of a broker, each with a publishing and a consuming bus of its own: `default`
 * subscribes with the bus's defaults, `tuned` with `options.tuned` (and runs the batch consumer,
 * where core has one).
 *
 * @example
 * ```ts
 * const tidings = createTidingsLanes({
 *   adapter: () => createNatsAdapter({ prefix }),
 *   topic: (name) => name,
 *   tuned: { concurrency: 64, ordering: 'none' },
 * });
 * ```
 */
export function createTidingsLanes(options: TidingsLaneOptions): TidingsLanes {
  return {
    default: tidingsLane('default', options, {}, false),
    tuned: tidingsLane('tuned', options, options.tuned ?? {}, true),
  };
}
