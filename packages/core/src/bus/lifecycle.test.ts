import { describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import { createMemoryAdapter } from '../adapters/memory/adapter';
import { createMemoryBroker } from '../adapters/memory/broker';
import { createTestBus } from '../testing/harness';
import { createBus } from './bus';
import { cheapAsyncContext } from './delivery-scope';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('stop drains in-flight handlers', () => {
  it('lets running handlers finish and starts nothing new', async () => {
    const broker = createMemoryBroker();
    const bus = createBus({ source: 's', adapter: createMemoryAdapter({ broker }) });
    const started: string[] = [];
    const finished: string[] = [];
    const inHandler = deferred();
    bus.subscribe(OrderPlaced, { group: 'g', concurrency: 2, ordering: 'none' }, async (event) => {
      started.push(event.data.orderId);
      inHandler.resolve();
      await new Promise((resolve) => setTimeout(resolve, 50));
      finished.push(event.data.orderId);
    });
    await bus.start();
    for (const id of ['a', 'b', 'c', 'd']) await bus.publish(OrderPlaced, order(id));
    await inHandler.promise;
    await bus.stop();
    expect(started).toEqual(['a', 'b']);
    expect(finished).toEqual(['a', 'b']);
    // The rest stays with the broker for the group's next member.
    expect(broker.stats()).toEqual([expect.objectContaining({ group: 'g', pending: 2 })]);
  });

  // Past a handler's first await, only AsyncContextFrame (Node 24+) tells which handler runs at a
  // price worth paying (delivery-scope.ts); tools/node-matrix.sh runs this on Node 24.
  it.runIf(cheapAsyncContext)(
    'does not wait for a handler that awaits bus.stop(): the others drain, then it settles',
    async () => {
      const broker = createMemoryBroker();
      const warnings: string[] = [];
      const logger = {
        debug: () => undefined,
        info: () => undefined,
        warn: (_fields: object, message: string) => warnings.push(message),
        error: () => undefined,
      };
      const bus = createBus({
        source: 's',
        adapter: createMemoryAdapter({ broker }),
        logger,
        drainTimeoutMs: 5_000,
      });
      const other = deferred();
      const otherStarted = deferred();
      const steps: string[] = [];
      let stopperAborted = false;
      bus.subscribe(OrderPlaced, { group: 'other' }, async () => {
        otherStarted.resolve();
        await other.promise;
        steps.push('other handler done');
      });
      bus.subscribe(OrderPlaced, { group: 'stopper' }, async (_event, ctx) => {
        await otherStarted.promise; // past its first await: the synchronous part is over
        const stopped = bus.stop();
        other.resolve();
        await stopped;
        steps.push('stop returned in the handler');
        stopperAborted = ctx.signal.aborted;
      });
      await bus.start();
      await bus.publish(OrderPlaced, order('a'));
      await bus.stop();
      expect(steps).toEqual(['other handler done', 'stop returned in the handler']);
      // It did not wait out the drain timeout: no handler was abandoned.
      expect(stopperAborted).toBe(false);
      expect(warnings.filter((w) => w.includes('drain timed out'))).toEqual([]);
      // Both events were settled: nothing is left for the groups' next members.
      expect(broker.stats()).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ group: 'other', pending: 0 }),
          expect.objectContaining({ group: 'stopper', pending: 0 }),
        ]),
      );
    },
  );

  it('does not wait for a handler that awaits bus.stop() before its first await either', async () => {
    const broker = createMemoryBroker();
    const bus = createBus({ source: 's', adapter: createMemoryAdapter({ broker }), drainTimeoutMs: 5_000 });
    let aborted: boolean | undefined;
    bus.subscribe(OrderPlaced, { group: 'stopper' }, async (_event, ctx) => {
      await bus.stop();
      aborted = ctx.signal.aborted;
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('a'));
    await bus.stop();
    expect(aborted).toBe(false);
    expect(broker.stats()).toEqual([expect.objectContaining({ group: 'stopper', pending: 0 })]);
  });

  it('gives up after the drain timeout, aborting the handlers, and their records come back', async () => {
    const broker = createMemoryBroker();
    const bus = createBus({ source: 's', adapter: createMemoryAdapter({ broker }), drainTimeoutMs: 50 });
    let aborted = false;
    const inHandler = deferred();
    bus.subscribe(OrderPlaced, { group: 'g' }, (_event, ctx) => {
      inHandler.resolve();
      return new Promise<void>(() => {
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
        });
      });
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('stuck'));
    await inHandler.promise;
    await bus.stop();
    expect(aborted).toBe(true);

    const next = createTestBus({ broker });
    next.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await next.start();
    const [again] = await next.waitFor({ outcome: 'handled' });
    expect(again!.attempt).toBe(2);
    await next.stop();
  });

  it('is idempotent', async () => {
    const bus = createBus({ source: 's' });
    await bus.start();
    await Promise.all([bus.stop(), bus.stop()]);
    await bus.stop();
  });
});

describe('health', () => {
  it('counts a delivery in flight while its handler runs, synchronous or not', async () => {
    const bus = createBus({ source: 's' });
    const seen: number[] = [];
    const release = deferred();
    const inAsync = deferred();
    bus.subscribe(OrderPlaced, { group: 'sync' }, () => {
      seen.push(bus.health().subscriptions[0]!.inFlight);
    });
    bus.subscribe(OrderPlaced, { group: 'async' }, async () => {
      inAsync.resolve();
      await release.promise;
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('o'));
    await inAsync.promise;
    expect(bus.health().subscriptions.map((s) => s.inFlight)).toEqual([0, 1]);
    release.resolve();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen).toEqual([1]);
    expect(bus.health().subscriptions.map((s) => s.inFlight)).toEqual([0, 0]);
    await bus.stop();
  });

  it('reports the adapter and every subscription for a readiness probe', async () => {
    const bus = createTestBus();
    expect(bus.health().status).toBe('down');
    const subscription = bus.subscribe(OrderPlaced, { group: 'email' }, (event) => {
      if (event.data.orderId === 'bad') throw new Error('template missing');
    });
    expect(bus.health().subscriptions[0]!.state).toBe('pending');
    await bus.start();
    expect(bus.health()).toEqual({
      status: 'up',
      adapter: { name: 'memory', state: 'connected' },
      subscriptions: [
        {
          group: 'email',
          topics: ['order.placed'],
          eventTypes: ['order.placed'],
          state: 'running',
          inFlight: 0,
          lastError: undefined,
        },
      ],
    });
    subscription.pause();
    expect(bus.health().subscriptions[0]!.state).toBe('paused');
    expect(bus.health().status).toBe('up');
    subscription.resume();

    await bus.publish(OrderPlaced, order('bad'));
    await bus.waitFor({ outcome: 'retried' });
    expect(bus.health().subscriptions[0]!.lastError).toMatchObject({
      name: 'Error',
      message: 'template missing',
    });

    await subscription.stop();
    expect(bus.health().subscriptions).toEqual([]);
    await bus.stop();
    expect(bus.health()).toMatchObject({ status: 'down', adapter: { state: 'closed' } });
  });

  it('reports a subscription the adapter refused as failed and fails start', async () => {
    const inner = createMemoryAdapter();
    const bus = createBus({
      source: 's',
      adapter: {
        name: 'refusing',
        capabilities: inner.capabilities,
        get state() {
          return inner.state;
        },
        connect: () => inner.connect(),
        publish: (records) => inner.publish(records),
        subscribe: async () => {
          throw new Error('ACCESS_REFUSED for queue');
        },
        close: (options) => inner.close(options),
      },
    });
    const subscription = bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await expect(bus.start()).rejects.toThrow('ACCESS_REFUSED');
    await expect(subscription.ready).rejects.toThrow('ACCESS_REFUSED');
    expect(bus.health()).toMatchObject({
      status: 'degraded',
      subscriptions: [{ state: 'failed', lastError: { message: 'ACCESS_REFUSED for queue' } }],
    });
    await bus.stop();
  });

  it('pauses and resumes delivery', async () => {
    const bus = createTestBus();
    const subscription = bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    subscription.pause();
    await bus.publish(OrderPlaced, order('while-paused'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(bus.deliveries).toEqual([]);
    subscription.resume();
    await bus.waitFor({ outcome: 'handled' });
    await bus.stop();
  });
});
