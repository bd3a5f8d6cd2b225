import { describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import type { SubscribeSpec } from '../adapters/contract';
import { createMemoryAdapter } from '../adapters/memory/adapter';
import { createMemoryBroker } from '../adapters/memory/broker';
import { ConfigError, NonRetryableError, TimeoutError } from '../errors';
import { createMemoryIdempotencyStore } from '../idempotency/memory-store';
import { createTestBus } from '../testing/harness';
import { createBus } from './bus';

const ids = (events: readonly { data: { orderId: string } }[]): string[] =>
  events.map((event) => event.data.orderId);

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('subscribeBatch', () => {
  it('hands over batches of at most maxSize events, in order, none lost or twice', async () => {
    const bus = createTestBus();
    const batches: string[][] = [];
    bus.subscribeBatch(OrderPlaced, { group: 'index', batch: { maxSize: 10, maxWaitMs: 20 } }, (events) => {
      batches.push(ids(events));
    });
    await bus.start();
    const wanted = Array.from({ length: 25 }, (_, i) => `o${i}`);
    await bus.publishBatch(wanted.map((id) => ({ contract: OrderPlaced, data: order(id) })));
    await bus.waitFor({ group: 'index', outcome: 'handled' }, { count: 25 });
    expect(batches.flat()).toEqual(wanted);
    expect(batches.every((batch) => batch.length >= 1 && batch.length <= 10)).toBe(true);
    expect(batches[0]).toHaveLength(10);
    await bus.stop();
  });

  it('hands over a partial batch maxWaitMs after its first event', async () => {
    const bus = createTestBus();
    const batches: string[][] = [];
    bus.subscribeBatch(OrderPlaced, { group: 'index', batch: { maxSize: 100, maxWaitMs: 300 } }, (events) => {
      batches.push(ids(events));
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('a'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await bus.publish(OrderPlaced, order('b'));
    await bus.waitFor({ group: 'index', outcome: 'handled' }, { count: 2 });
    // Both waited in one batch, which was handed over unfilled.
    expect(batches).toEqual([['a', 'b']]);
    await bus.stop();
  });

  it('settles each event on its own: a failed one is retried, attempt rising, then dead-lettered with the reason', async () => {
    const bus = createTestBus();
    const seen: string[] = [];
    bus.subscribeBatch(
      OrderPlaced,
      { group: 'index', retry: { maxAttempts: 3, initialDelayMs: 1, jitter: 0 }, batch: { maxWaitMs: 5 } },
      (events, batch) => {
        for (const event of events) {
          seen.push(`${event.data.orderId}@${batch.contextOf(event).attempt}`);
          if (event.data.orderId === 'bad') batch.fail(event, new Error('rejected by the index'));
        }
      },
    );
    await bus.start();
    await bus.publishBatch(['good', 'bad'].map((id) => ({ contract: OrderPlaced, data: order(id) })));
    const [dead] = await bus.waitFor({ group: 'index', outcome: 'deadLettered' });
    expect(dead).toMatchObject({ attempt: 3, reason: 'Error: rejected by the index' });
    const bad = bus.deliveries.filter((d) => (d.data as { orderId: string }).orderId === 'bad');
    expect(bad.map((d) => [d.attempt, d.outcome])).toEqual([
      [1, 'retried'],
      [2, 'retried'],
      [3, 'deadLettered'],
    ]);
    const good = bus.deliveries.filter((d) => (d.data as { orderId: string }).orderId === 'good');
    expect(good.map((d) => d.outcome)).toEqual(['handled']);
    expect(seen).toEqual(['good@1', 'bad@1', 'bad@2', 'bad@3']);
    await bus.stop();
  });

  // Behind idempotency each event waits on its own promise (the store must see each one's own
  // outcome); without it the batch's events share one. Both roads settle each event on its own.
  it('settles each event on its own behind the idempotency policy too: only the failed one comes again', async () => {
    const bus = createTestBus();
    const seen: string[] = [];
    bus.subscribeBatch(
      OrderPlaced,
      {
        group: 'index',
        idempotency: createMemoryIdempotencyStore(),
        retry: { maxAttempts: 3, initialDelayMs: 1, jitter: 0 },
        batch: { maxWaitMs: 5 },
      },
      (events, batch) => {
        for (const event of events) {
          const { attempt } = batch.contextOf(event);
          seen.push(`${event.data.orderId}@${attempt}`);
          if (event.data.orderId === 'bad' && attempt === 1) batch.fail(event, new Error('index busy'));
        }
      },
    );
    await bus.start();
    await bus.publishBatch(['good', 'bad'].map((id) => ({ contract: OrderPlaced, data: order(id) })));
    await bus.waitFor({ group: 'index', outcome: 'handled' }, { count: 2 });
    const outcomes = bus.deliveries.map((d) => [
      (d.data as { orderId: string }).orderId,
      d.attempt,
      d.outcome,
    ]);
    expect(outcomes).toEqual([
      ['good', 1, 'handled'],
      ['bad', 1, 'retried'],
      ['bad', 2, 'handled'],
    ]);
    expect(seen).toEqual(['good@1', 'bad@1', 'bad@2']);
    await bus.stop();
  });

  it('retries an event it failed after the longest delay when even dead-lettering it fails (the topic namer throws)', async () => {
    // The namer is asked once at subscribe time (to check the topic); it fails from then on.
    let namerUp = true;
    const bus = createTestBus({
      deadLetterTopic: (topic, group) => {
        if (namerUp) return `${topic}.${group}.dlq`;
        throw new Error('namer down');
      },
    });
    bus.subscribeBatch(
      OrderPlaced,
      { group: 'index', retry: { maxAttempts: 3, maxDelayMs: 60_000 }, batch: { maxWaitMs: 5 } },
      (events, batch) => {
        for (const event of events) {
          if (event.data.orderId === 'bad') batch.fail(event, new NonRetryableError('malformed'));
        }
      },
    );
    await bus.start();
    namerUp = false;
    await bus.publishBatch(['good', 'bad'].map((id) => ({ contract: OrderPlaced, data: order(id) })));
    const [retried] = await bus.waitFor({ group: 'index', outcome: 'retried' });
    expect(retried).toMatchObject({ attempt: 1 });
    expect((retried!.data as { orderId: string }).orderId).toBe('bad');
    await bus.waitFor({ group: 'index', outcome: 'handled' });
    expect(bus.deliveries.map((d) => d.outcome).sort()).toEqual(['handled', 'retried']);
    await bus.stop();
  });

  it('fails every event the handler did not fail itself with what it throws', async () => {
    const bus = createTestBus();
    bus.subscribeBatch(
      OrderPlaced,
      { group: 'index', retry: { maxAttempts: 2, initialDelayMs: 1 }, batch: { maxWaitMs: 5 } },
      (events, batch) => {
        if (batch.contexts[0]!.attempt > 1) return;
        batch.fail(events[0], new NonRetryableError('malformed document'));
        throw new Error('bulk endpoint down');
      },
    );
    await bus.start();
    await bus.publishBatch(['a', 'b', 'c'].map((id) => ({ contract: OrderPlaced, data: order(id) })));
    await bus.waitFor({ group: 'index', outcome: 'handled' }, { count: 2 });
    const outcomes = bus.deliveries.map((d) => [
      (d.data as { orderId: string }).orderId,
      d.outcome,
      d.attempt,
    ]);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ['a', 'deadLettered', 1],
        ['b', 'retried', 1],
        ['c', 'retried', 1],
        ['b', 'handled', 2],
        ['c', 'handled', 2],
      ]),
    );
    expect(outcomes).toHaveLength(5);
    expect(bus.deliveries.find((d) => d.outcome === 'deadLettered')?.reason).toBe(
      'NonRetryableError: malformed document',
    );
    expect(bus.deliveries.find((d) => d.outcome === 'retried')?.error?.message).toBe('bulk endpoint down');
    await bus.stop();
  });

  it('dead-letters an undecodable record by itself and hands the rest of the batch over', async () => {
    const bus = createTestBus();
    const batches: string[][] = [];
    bus.subscribeBatch(OrderPlaced, { group: 'index', batch: { maxSize: 10, maxWaitMs: 20 } }, (events) => {
      batches.push(ids(events));
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('before'));
    await bus.adapter.publish([
      { topic: 'order.placed', key: 'k', headers: { ce_type: 'order.placed' }, body: Buffer.from('{"tot') },
    ]);
    await bus.publish(OrderPlaced, order('after'));
    const [poison] = await bus.waitFor({ group: 'index', outcome: 'deadLettered' });
    expect(poison!.reason).toMatch(/DecodeError/);
    await bus.waitFor({ group: 'index', outcome: 'handled' }, { count: 2 });
    expect(batches.flat()).toEqual(['before', 'after']);
    await bus.stop();
  });

  it('times out the whole call: its signal aborts and every event is retried with a TimeoutError', async () => {
    const bus = createTestBus();
    let aborted: unknown;
    bus.subscribeBatch(
      OrderPlaced,
      {
        group: 'index',
        timeoutMs: 30,
        retry: { maxAttempts: 2, initialDelayMs: 1 },
        batch: { maxWaitMs: 5 },
      },
      async (_events, batch) => {
        if (batch.contexts[0]!.attempt > 1) return;
        await new Promise((resolve) => batch.signal.addEventListener('abort', resolve));
        aborted = batch.signal.reason;
      },
    );
    await bus.start();
    await bus.publishBatch(['a', 'b'].map((id) => ({ contract: OrderPlaced, data: order(id) })));
    await bus.waitFor({ group: 'index', outcome: 'handled' }, { count: 2 });
    const retried = bus.deliveries.filter((d) => d.outcome === 'retried');
    expect(retried).toHaveLength(2);
    expect(retried.every((d) => d.error instanceof TimeoutError)).toBe(true);
    expect(aborted).toBeInstanceOf(TimeoutError);
    await bus.stop();
  });

  it('leaves events already handled out of the batch, through the idempotency policy', async () => {
    const bus = createTestBus();
    const batches: string[][] = [];
    bus.subscribeBatch(
      OrderPlaced,
      { group: 'index', idempotency: createMemoryIdempotencyStore(), batch: { maxWaitMs: 5 } },
      (events) => {
        batches.push(ids(events));
      },
    );
    await bus.start();
    await bus.publish(OrderPlaced, order('a'), { id: 'same-id' });
    await bus.waitFor({ group: 'index', outcome: 'handled' });
    await bus.publish(OrderPlaced, order('a-again'), { id: 'same-id' });
    await bus.publish(OrderPlaced, order('b'));
    await bus.waitFor({ group: 'index', outcome: 'skipped' });
    await bus.waitFor({ group: 'index', outcome: 'handled' }, { count: 2 });
    expect(batches.flat()).toEqual(['a', 'b']);
    await bus.stop();
  });

  it('stop hands a partial batch over at once and drains it', async () => {
    const broker = createMemoryBroker();
    const bus = createBus({ source: 's', adapter: createMemoryAdapter({ broker }) });
    const finished: string[][] = [];
    const subscription = bus.subscribeBatch(
      OrderPlaced,
      { group: 'g', batch: { maxSize: 100, maxWaitMs: 60_000 } },
      async (events) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        finished.push(ids(events));
      },
    );
    await bus.start();
    await bus.publishBatch(['a', 'b'].map((id) => ({ contract: OrderPlaced, data: order(id) })));
    await until(() => subscription.health().inFlight === 2);
    await bus.stop();
    expect(finished).toEqual([['a', 'b']]);
    expect(broker.stats()).toEqual([expect.objectContaining({ group: 'g', pending: 0 })]);
  });

  it.each([
    ['handed over full', 3],
    ['handed over by its wait', 100],
  ])(
    'does not wait for a batch handler that awaits bus.stop() (%s): its whole batch is settled when it returns',
    async (_how, maxSize) => {
      const broker = createMemoryBroker();
      const bus = createBus({ source: 's', adapter: createMemoryAdapter({ broker }), drainTimeoutMs: 5_000 });
      let aborted: boolean | undefined;
      const stopped: string[][] = [];
      bus.subscribeBatch(OrderPlaced, { group: 'stopper', batch: { maxSize } }, async (events, batch) => {
        stopped.push(ids(events));
        await bus.stop();
        aborted = batch.signal.aborted;
      });
      await bus.start();
      const started = Date.now();
      await bus.publishBatch(['a', 'b', 'c'].map((id) => ({ contract: OrderPlaced, data: order(id) })));
      await bus.stop();
      expect(stopped).toEqual([['a', 'b', 'c']]);
      expect(aborted).toBe(false);
      // Not a speed check: waiting out the drain timeout (5 s) would mean the handler waited on itself.
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(broker.stats()).toEqual([expect.objectContaining({ group: 'stopper', pending: 0 })]);
    },
  );

  it('refuses to fail an event that is not in the batch, and ignores a fail after the handler returned', async () => {
    const bus = createTestBus();
    let refused: unknown;
    let late: (() => void) | undefined;
    bus.subscribeBatch(OrderPlaced, { group: 'index', batch: { maxWaitMs: 5 } }, (events, batch) => {
      try {
        batch.fail({ ...events[0] }, new Error('a copy is not the event'));
      } catch (error) {
        refused = error;
      }
      late = () => batch.fail(events[0], new Error('too late'));
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('a'));
    await bus.waitFor({ group: 'index', outcome: 'handled' });
    expect(refused).toBeInstanceOf(ConfigError);
    late!();
    await bus.publish(OrderPlaced, order('b'));
    await bus.waitFor({ group: 'index', outcome: 'handled' }, { count: 2 });
    expect(bus.deliveries.map((d) => d.outcome)).toEqual(['handled', 'handled']);
    await bus.stop();
  });

  it('asks the adapter for a batch at a time, in any order unless told, with room for the wait', () => {
    const bus = createTestBus({ subscriptionDefaults: { ordering: 'key', concurrency: 4 } });
    const specOf = (subscription: unknown) => (subscription as { spec: SubscribeSpec }).spec;
    const batch = { maxSize: 250, maxWaitMs: 40 };
    const unordered = bus.subscribeBatch(
      OrderPlaced,
      { group: 'a', timeoutMs: 1_000, batch },
      () => undefined,
    );
    // Two batches' worth held: the next one fills while the handler runs this one.
    expect(specOf(unordered)).toMatchObject({
      concurrency: 250,
      prefetch: 500,
      ordering: 'none',
      handlerTimeoutMs: 1_040,
    });
    const ordered = bus.subscribeBatch(OrderPlaced, { group: 'b', ordering: 'key', batch }, () => undefined);
    expect(specOf(ordered)).toMatchObject({ concurrency: 250, prefetch: 500, ordering: 'key' });
  });

  it('refuses bad batch options at construction, naming the field', () => {
    const bus = createTestBus();
    const handler = (): void => undefined;
    const attempt = (options: object) => () =>
      bus.subscribeBatch(OrderPlaced, { group: 'g', ...options } as { group: string }, handler);
    expect(attempt({ batch: { maxSize: 0 } })).toThrow(ConfigError);
    expect(attempt({ batch: { maxSize: 0 } })).toThrow(/batch\.maxSize/);
    expect(attempt({ batch: { maxWaitMs: -1 } })).toThrow(/batch\.maxWaitMs/);
    expect(attempt({ batch: { maxWaitMs: 1.5 } })).toThrow(/batch\.maxWaitMs/);
    expect(attempt({ batch: { size: 10 } })).toThrow(/batch\.size/);
    expect(attempt({ batch: 10 })).toThrow(/batch/);
    // The concurrency and prefetch follow the batch size.
    expect(attempt({ concurrency: 4 })).toThrow(/concurrency/);
    expect(attempt({ prefetch: 400 })).toThrow(/prefetch/);
  });
});
