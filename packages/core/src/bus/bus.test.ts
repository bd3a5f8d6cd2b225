import { describe, expect, it } from 'vitest';
import { OrderPlaced, OrderPlacedV1, OrderShipped, order } from '../../test/support/contracts';
import type { BrokerAdapter, SubscribeSpec } from '../adapters/contract';
import { createMemoryAdapter } from '../adapters/memory/adapter';
import { createMemoryBroker } from '../adapters/memory/broker';
import type { ReceivedEvent } from '../context/delivery';
import { batchEntry } from '../context/publish';
import { uuidv7Time } from '../envelope/uuid';
import { ClosedError, ConfigError, ValidationError } from '../errors';
import { createMemoryIdempotencyStore } from '../idempotency/memory-store';
import { createTestBus } from '../testing/harness';
import { createBus } from './bus';

describe('publish and subscribe', () => {
  it('delivers a typed, validated event with its CloudEvents attributes', async () => {
    const bus = createTestBus({ source: 'order-service' });
    const received: ReceivedEvent[] = [];
    bus.subscribe(OrderPlaced, { group: 'email' }, (event) => {
      received.push(event);
    });
    await bus.start();
    const published = await bus.publish(OrderPlaced, order('o-1', 42), { correlationId: 'req-7' });
    await bus.waitFor({ id: published.id, outcome: 'handled' });
    expect(received).toHaveLength(1);
    const [event] = received;
    expect(event).toMatchObject({
      id: published.id,
      type: 'order.placed',
      source: 'order-service',
      subject: 'o-1',
      key: 'o-1',
      version: 2,
      correlationId: 'req-7',
      data: { orderId: 'o-1', total: 42, currency: 'EUR' },
    });
    expect(uuidv7Time(event!.id)).toBeDefined();
    expect(Date.parse(event!.time!)).not.toBeNaN();
    expect(published).toEqual({ id: event!.id, type: 'order.placed', topic: 'order.placed', key: 'o-1' });
    await bus.stop();
  });

  it('rejects invalid data on publish with a ValidationError, sending nothing', async () => {
    const bus = createTestBus();
    await bus.start();
    const error = await bus
      .publish(OrderPlaced, { orderId: 'o', total: -1, currency: 'EURO' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual([['total'], ['currency']]);
    expect(bus.published).toHaveLength(0);
    await bus.stop();
  });

  it('gives a multi-contract handler a union discriminated by type', async () => {
    const bus = createTestBus();
    const seen: string[] = [];
    bus.subscribe([OrderPlaced, OrderShipped], { group: 'timeline' }, (event) => {
      if (event.type === 'order.shipped') seen.push(`shipped by ${event.data.carrier}`);
      else seen.push(`placed for ${event.data.total}`);
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('o-1', 5));
    await bus.publish(OrderShipped, { orderId: 'o-1', carrier: 'dhl' });
    await bus.waitFor({ group: 'timeline', outcome: 'handled' }, { count: 2 });
    expect(seen).toEqual(['placed for 5', 'shipped by dhl']);
    await bus.stop();
  });

  it('upgrades events of an older version before the handler sees them', async () => {
    const broker = createMemoryBroker();
    const consumer = createTestBus({ broker });
    const oldProducer = createBus({ source: 'legacy', adapter: createMemoryAdapter({ broker }) });
    let data: unknown;
    consumer.subscribe(OrderPlaced, { group: 'g' }, (event) => {
      data = event.data;
      expect(event.version).toBe(1);
    });
    await consumer.start();
    await oldProducer.publish(OrderPlacedV1, { orderId: 'o-9', total: 3 });
    await consumer.waitFor({ outcome: 'handled' });
    expect(data).toEqual({ orderId: 'o-9', total: 3, currency: 'EUR' });
    await oldProducer.stop();
    await consumer.stop();
  });

  it('publishes a batch in one call, in order, and nothing when one entry is invalid', async () => {
    const bus = createTestBus();
    const seen: string[] = [];
    bus.subscribe(OrderPlaced, { group: 'g', ordering: 'none', concurrency: 1 }, (event) => {
      seen.push(event.data.orderId);
    });
    await bus.start();
    await expect(
      bus.publishBatch([
        batchEntry(OrderPlaced, order('a')),
        batchEntry(OrderPlaced, { ...order('b'), total: -5 }),
      ]),
    ).rejects.toBeInstanceOf(ValidationError);
    const events = await bus.publishBatch([
      batchEntry(OrderPlaced, order('a')),
      batchEntry(OrderPlaced, order('b')),
    ]);
    expect(events.map((e) => e.key)).toEqual(['a', 'b']);
    await bus.waitFor({ outcome: 'handled' }, { count: 2 });
    expect(seen).toEqual(['a', 'b']);
    expect(await bus.publishBatch([])).toEqual([]);
    await bus.stop();
  });

  it('sets causation and correlation on events published from a handler', async () => {
    const bus = createTestBus();
    bus.subscribe(OrderPlaced, { group: 'fulfilment' }, async (event, ctx) => {
      await ctx.publish(OrderShipped, { orderId: event.data.orderId, carrier: 'ups' });
    });
    await bus.start();
    const placed = await bus.publish(OrderPlaced, order('o-3'));
    await bus.waitFor({ group: 'fulfilment', outcome: 'handled' });
    const shipped = bus.published.find((p) => p.type === 'order.shipped')!;
    expect(shipped.causationId).toBe(placed.id);
    expect(shipped.correlationId).toBe(placed.id);
    await bus.stop();
  });

  it('prepares records for an outbox without sending them', async () => {
    const bus = createTestBus();
    const { records, events } = await bus.prepare([batchEntry(OrderPlaced, order('o-4'))]);
    expect(records).toHaveLength(1);
    expect(records[0]!.headers.ce_id).toBe(events[0]!.id);
    expect(records[0]!.key).toBe('o-4');
    expect(bus.published).toHaveLength(0);
    // What the outbox relay later publishes is exactly what the bus would have sent.
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    await bus.adapter.publish(records);
    await bus.waitFor({ id: events[0]!.id, outcome: 'handled' });
    await bus.stop();
  });

  it('lets a subscription made after start begin at once', async () => {
    const bus = createTestBus();
    await bus.start();
    const subscription = bus.subscribe(OrderPlaced, { group: 'late' }, () => undefined);
    await subscription.ready;
    await bus.publish(OrderPlaced, order('o-5'));
    await bus.waitFor({ group: 'late', outcome: 'handled' });
    await bus.stop();
  });

  it('skips events already handled by the group when idempotency is on', async () => {
    const bus = createTestBus();
    let runs = 0;
    bus.subscribe(OrderPlaced, { group: 'billing', idempotency: createMemoryIdempotencyStore() }, () => {
      runs++;
    });
    await bus.start();
    // The same fact published twice (a producer retry) carries the same id.
    await bus.publish(OrderPlaced, order('o-6'), { id: 'same-id' });
    await bus.publish(OrderPlaced, order('o-6'), { id: 'same-id' });
    await bus.waitFor({ id: 'same-id', outcome: 'skipped' });
    expect(runs).toBe(1);
    await bus.stop();
  });

  it('keeps events of one key in order while other keys run in parallel', async () => {
    const bus = createTestBus();
    const byKey = new Map<string, number[]>();
    bus.subscribe(OrderPlaced, { group: 'ordered', concurrency: 8 }, async (event) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
      const list = byKey.get(event.data.orderId) ?? [];
      list.push(event.data.total);
      byKey.set(event.data.orderId, list);
    });
    await bus.start();
    for (let total = 0; total < 20; total++) {
      for (const id of ['a', 'b', 'c']) await bus.publish(OrderPlaced, order(id, total));
    }
    await bus.waitFor({ group: 'ordered', outcome: 'handled' }, { count: 60 });
    for (const list of byKey.values()) expect(list).toEqual([...list].sort((x, y) => x - y));
    await bus.stop();
  });

  it('consumes a dead-letter topic like any other', async () => {
    const bus = createTestBus();
    bus.subscribe(OrderPlaced, { group: 'email', retry: false }, () => {
      throw new Error('mailer down');
    });
    const letters: { id: string; reason: string | undefined }[] = [];
    bus.subscribe(
      OrderPlaced,
      { group: 'dlq-audit', topic: bus.deadLetterTopicOf(OrderPlaced, 'email') },
      (event, ctx) => {
        letters.push({ id: event.id, reason: ctx.record.headers['tidings-dlq-reason'] });
      },
    );
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o-7'));
    await bus.waitFor({ group: 'dlq-audit', outcome: 'handled' });
    expect(letters).toEqual([{ id, reason: 'Error: mailer down' }]);
    await bus.stop();
  });
});

describe('bus configuration', () => {
  it('needs a source', () => {
    expect(() => createBus({ source: '' })).toThrow(ConfigError);
  });

  it('refuses key ordering on an adapter that cannot order by key', () => {
    const inner = createMemoryAdapter();
    const unordered: BrokerAdapter = {
      name: 'unordered',
      capabilities: { ...inner.capabilities, ordering: 'none' },
      get state() {
        return inner.state;
      },
      connect: () => inner.connect(),
      publish: (records) => inner.publish(records),
      subscribe: (spec, handler) => inner.subscribe(spec, handler),
      close: (options) => inner.close(options),
    };
    const bus = createBus({ source: 's', adapter: unordered });
    expect(() => bus.subscribe(OrderPlaced, { group: 'g', ordering: 'key' }, () => undefined)).toThrow(
      /does not order by key/,
    );
    expect(() => bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined)).not.toThrow();
  });

  it.each([
    [{ group: '' }, 'group'],
    [{ group: 'g', concurrency: 0 }, 'concurrency'],
    [{ group: 'g', prefetch: 0 }, 'prefetch'],
    [{ group: 'g', prefetch: 2.5 }, 'prefetch'],
    [{ group: 'g', concurrency: 8, prefetch: 4 }, 'prefetch'],
    [{ group: 'g', prefetch: 15 }, 'prefetch'],
    [{ group: 'g', timeoutMs: -1 }, 'timeoutMs'],
    [{ group: 'g', retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ group: 'g', startFrom: 'middle' }, 'startFrom'],
  ])('names the bad subscription option in %o', (options, field) => {
    const bus = createBus({ source: 's' });
    try {
      bus.subscribe(OrderPlaced, options as never, () => undefined);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe(field);
    }
  });

  it('refuses two contracts with one type in a subscription, and an empty list', () => {
    const bus = createBus({ source: 's' });
    expect(() => bus.subscribe([OrderPlaced, OrderPlacedV1], { group: 'g' }, () => undefined)).toThrow(
      /two contracts/,
    );
    expect(() => bus.subscribe([], { group: 'g' }, () => undefined)).toThrow(ConfigError);
  });

  it('fails fast on bad subscription defaults', () => {
    expect(() => createBus({ source: 's', subscriptionDefaults: { retry: { jitter: 2 } } })).toThrow(
      ConfigError,
    );
    for (const subscriptionDefaults of [{ prefetch: 0 }, { concurrency: 8, prefetch: 4 }]) {
      expect(() => createBus({ source: 's', subscriptionDefaults })).toThrow(
        expect.objectContaining({ field: 'subscriptionDefaults.prefetch' }),
      );
    }
  });

  it('asks the adapter for a prefetch of four times the concurrency unless told, and never below it', async () => {
    const specs = new Map<string, SubscribeSpec>();
    const recording = (): BrokerAdapter => {
      const inner = createMemoryAdapter();
      return {
        name: 'recording',
        capabilities: inner.capabilities,
        get state() {
          return inner.state;
        },
        connect: () => inner.connect(),
        publish: (records) => inner.publish(records),
        subscribe: (spec, handler) => {
          specs.set(spec.group, spec);
          return inner.subscribe(spec, handler);
        },
        close: (options) => inner.close(options),
      };
    };
    const bus = createBus({ source: 's', adapter: recording(), subscriptionDefaults: { concurrency: 4 } });
    const flowOf = (group: string) => {
      const spec = specs.get(group);
      return spec === undefined ? undefined : { concurrency: spec.concurrency, prefetch: spec.prefetch };
    };
    const subscriptions = [
      bus.subscribe(OrderPlaced, { group: 'from-defaults' }, () => undefined),
      bus.subscribe(OrderPlaced, { group: 'own-concurrency', concurrency: 10 }, () => undefined),
      bus.subscribe(OrderPlaced, { group: 'own-prefetch', prefetch: 4 }, () => undefined),
      bus.subscribe(OrderPlaced, { group: 'both', concurrency: 2, prefetch: 500 }, () => undefined),
    ];
    await bus.start();
    await Promise.all(subscriptions.map((subscription) => subscription.ready));
    expect(flowOf('from-defaults')).toEqual({ concurrency: 4, prefetch: 16 });
    expect(flowOf('own-concurrency')).toEqual({ concurrency: 10, prefetch: 40 });
    expect(flowOf('own-prefetch')).toEqual({ concurrency: 4, prefetch: 4 });
    expect(flowOf('both')).toEqual({ concurrency: 2, prefetch: 500 });
    await bus.stop();

    const plain = createBus({ source: 's', adapter: recording() });
    plain.subscribe(OrderPlaced, { group: 'plain' }, () => undefined);
    await plain.start();
    expect(flowOf('plain')).toEqual({ concurrency: 16, prefetch: 64 });
    // A prefetch given in the defaults is checked against each subscription's own concurrency.
    const shared = createBus({ source: 's', subscriptionDefaults: { prefetch: 32 } });
    expect(() => shared.subscribe(OrderPlaced, { group: 'g', concurrency: 64 }, () => undefined)).toThrow(
      expect.objectContaining({ field: 'prefetch' }),
    );
    await plain.stop();
    await shared.stop();
  });

  it('refuses to publish or subscribe once stopped', async () => {
    const bus = createBus({ source: 's' });
    await bus.start();
    await bus.stop();
    await expect(bus.publish(OrderPlaced, order('x'))).rejects.toBeInstanceOf(ClosedError);
    expect(() => bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined)).toThrow(ClosedError);
    await expect(bus.start()).rejects.toBeInstanceOf(ClosedError);
    await bus.stop();
  });

  it('connects on the first publish when not started', async () => {
    const bus = createBus({ source: 's' });
    await bus.publish(OrderPlaced, order('x'));
    expect(bus.adapter.state).toBe('connected');
    await bus.stop();
  });
});
