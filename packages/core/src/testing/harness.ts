import { createMemoryAdapter } from '../adapters/memory/adapter';
import type { MemoryBroker } from '../adapters/memory/broker';
import { createBus } from '../bus/bus';
import type { Bus, BusOptions } from '../bus/options';
import type { PublishMiddleware } from '../context/publish';
import { TimeoutError } from '../errors';
import type { Middleware } from '../middleware/types';

/** How the pipeline finished with one delivery. */
export type DeliveryOutcome = 'handled' | 'skipped' | 'retried' | 'deadLettered';

/** One delivery, as the harness saw it. */
export interface RecordedDelivery {
  readonly group: string;
  readonly topic: string;
  /** Event id and type; undefined when the record could not be decoded. */
  readonly id: string | undefined;
  readonly type: string | undefined;
  readonly data: unknown;
  readonly attempt: number;
  /** `handled`: acked after the handler; `skipped`: acked without it (duplicate, unknown type ignored). */
  readonly outcome: DeliveryOutcome;
  readonly error: Error | undefined;
  /** Dead-letter reason, for `deadLettered`. */
  readonly reason: string | undefined;
  /** Retry delay, for `retried`. */
  readonly delayMs: number | undefined;
}

/** One published event, as the harness saw it. */
export interface RecordedPublish {
  readonly id: string;
  readonly type: string;
  readonly topic: string;
  readonly key: string | undefined;
  readonly data: unknown;
  readonly correlationId: string | undefined;
  readonly causationId: string | undefined;
}

/** What {@link TestBus.waitFor} waits for; every given field must match. */
export interface DeliveryQuery {
  readonly type?: string;
  readonly group?: string;
  readonly id?: string;
  readonly outcome?: DeliveryOutcome;
  readonly where?: (delivery: RecordedDelivery) => boolean;
}

/** Options of {@link TestBus.waitFor}. */
export interface WaitOptions {
  /** How many matching deliveries to wait for. Default 1. */
  readonly count?: number;
  /** Safety net, not a sleep: the wait ends as soon as the deliveries are there. Default 5,000 ms. */
  readonly timeoutMs?: number;
}

/** A bus on the in-memory adapter that records what happens, for an application's own tests. */
export interface TestBus extends Bus {
  /** Every event published through this bus, in order. */
  readonly published: readonly RecordedPublish[];
  /** Every delivery that finished, in order. */
  readonly deliveries: readonly RecordedDelivery[];
  /**
   * Resolves with the matching deliveries as soon as `count` of them have happened (counting those
   * already recorded); rejects with a `TimeoutError` that lists what was seen otherwise.
   */
  waitFor(query: DeliveryQuery, options?: WaitOptions): Promise<RecordedDelivery[]>;
  /** Forgets what was recorded so far. */
  clear(): void;
}

/** Settings of {@link createTestBus}. */
export interface TestBusOptions extends Omit<BusOptions, 'adapter' | 'source'> {
  /** Default `test`. */
  readonly source?: string;
  /** Share a broker between several test buses. */
  readonly broker?: MemoryBroker;
}

interface Waiter {
  readonly query: DeliveryQuery;
  readonly count: number;
  readonly resolve: (deliveries: RecordedDelivery[]) => void;
}

function matches(query: DeliveryQuery, delivery: RecordedDelivery): boolean {
  return (
    (query.type === undefined || query.type === delivery.type) &&
    (query.group === undefined || query.group === delivery.group) &&
    (query.id === undefined || query.id === delivery.id) &&
    (query.outcome === undefined || query.outcome === delivery.outcome) &&
    (query.where === undefined || query.where(delivery))
  );
}

/**
 * Creates a bus for tests: the in-memory adapter, retries that wait 10 ms rather than a second,
 * and a record of everything published and delivered, with a way to await a delivery instead of
 * sleeping.
 *
 * @example
 * ```ts
 * const bus = createTestBus();
 * bus.subscribe(OrderPlaced, { group: 'email' }, sendConfirmation);
 * await bus.start();
 * const { id } = await bus.publish(OrderPlaced, { orderId: 'o-1', total: 5, currency: 'EUR' });
 * await bus.waitFor({ id, group: 'email', outcome: 'handled' });
 * await bus.stop();
 * ```
 */
export function createTestBus(options: TestBusOptions = {}): TestBus {
  const published: RecordedPublish[] = [];
  const deliveries: RecordedDelivery[] = [];
  let waiters: Waiter[] = [];

  const wake = (): void => {
    const still: Waiter[] = [];
    for (const waiter of waiters) {
      const found = deliveries.filter((d) => matches(waiter.query, d));
      if (found.length >= waiter.count) waiter.resolve(found.slice(0, waiter.count));
      else still.push(waiter);
    }
    waiters = still;
  };

  const record = (delivery: RecordedDelivery): void => {
    deliveries.push(delivery);
    // Wake waiters once the settlement has reached the adapter, so that a test that goes on to
    // look at the broker or at health sees the delivery finished.
    if (waiters.length > 0) setImmediate(wake);
  };

  const recordDeliveries: Middleware = async (ctx, next) => {
    let error: Error | undefined;
    try {
      await next();
    } catch (thrown) {
      error = thrown instanceof Error ? thrown : new Error(String(thrown));
      throw thrown;
    } finally {
      const settlement = ctx.settlement;
      let outcome: DeliveryOutcome;
      if (error !== undefined) {
        // An error that escapes every policy is retried, then dead-lettered, by the bus itself.
        outcome = ctx.attempt < ctx.maxAttempts ? 'retried' : 'deadLettered';
      } else if (settlement === undefined || settlement.type === 'ack') {
        outcome = ctx.duplicate || ctx.event === undefined ? 'skipped' : 'handled';
      } else outcome = settlement.type === 'retry' ? 'retried' : 'deadLettered';
      record({
        group: ctx.group,
        topic: ctx.record.topic,
        id: ctx.event?.id,
        type: ctx.event?.type,
        data: ctx.event?.data,
        attempt: ctx.attempt,
        outcome,
        error: ctx.error ?? error,
        reason: settlement?.type === 'deadLetter' ? settlement.reason : undefined,
        delayMs: settlement?.type === 'retry' ? settlement.delayMs : undefined,
      });
    }
  };

  const recordPublishes: PublishMiddleware = async (ctx, next) => {
    await next();
    if (ctx.mode !== 'publish') return;
    for (const draft of ctx.drafts) {
      published.push({
        id: draft.id,
        type: draft.type,
        topic: draft.topic,
        key: draft.key,
        data: draft.data,
        correlationId: draft.correlationId,
        causationId: draft.causationId,
      });
    }
  };

  const { broker, source, ...busOptions } = options;
  const bus = createBus({
    ...busOptions,
    source: source ?? 'test',
    adapter: createMemoryAdapter(broker === undefined ? {} : { broker }),
    middleware: [recordDeliveries, ...(options.middleware ?? [])],
    publishMiddleware: [recordPublishes, ...(options.publishMiddleware ?? [])],
    subscriptionDefaults: {
      retry: { initialDelayMs: 10, maxDelayMs: 100 },
      ...options.subscriptionDefaults,
    },
  });

  const testBus: TestBus = {
    adapter: bus.adapter,
    start: () => bus.start(),
    stop: () => bus.stop(),
    publish: bus.publish.bind(bus),
    publishBatch: bus.publishBatch.bind(bus),
    prepare: bus.prepare.bind(bus),
    subscribe: bus.subscribe.bind(bus),
    subscribeBatch: bus.subscribeBatch.bind(bus),
    topicOf: bus.topicOf.bind(bus),
    deadLetterTopicOf: bus.deadLetterTopicOf.bind(bus),
    health: bus.health.bind(bus),
    published,
    deliveries,
    clear(): void {
      published.length = 0;
      deliveries.length = 0;
    },
    waitFor(query: DeliveryQuery, waitOptions: WaitOptions = {}): Promise<RecordedDelivery[]> {
      const count = waitOptions.count ?? 1;
      const timeoutMs = waitOptions.timeoutMs ?? 5_000;
      const found = deliveries.filter((d) => matches(query, d));
      if (found.length >= count) return Promise.resolve(found.slice(0, count));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== waiter);
          const seen = deliveries
            .slice(-10)
            .map((d) => `${d.group}/${d.type ?? '?'}/${d.outcome}`)
            .join(', ');
          reject(
            new TimeoutError(
              `waitFor(${JSON.stringify({ ...query, where: query.where ? 'fn' : undefined })}) saw ${
                deliveries.filter((d) => matches(query, d)).length
              } of ${count} within ${timeoutMs} ms; last deliveries: ${seen || 'none'}`,
              timeoutMs,
            ),
          );
        }, timeoutMs);
        const waiter: Waiter = {
          query,
          count,
          resolve: (result) => {
            clearTimeout(timer);
            resolve(result);
          },
        };
        waiters.push(waiter);
      });
    },
  };
  return testBus;
}
