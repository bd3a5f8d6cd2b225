import { afterEach, describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import type { BrokerAdapter, OutgoingRecord } from '../adapters/contract';
import { createMemoryAdapter } from '../adapters/memory/adapter';
import { createMemoryBroker } from '../adapters/memory/broker';
import { createBus } from '../bus/bus';
import { batchEntry } from '../context/publish';
import { ClosedError, ConfigError, ConnectionError } from '../errors';
import { createTestBus, type TestBus } from '../testing/harness';
import { createMemoryOutbox, type MemoryOutbox } from './memory-outbox';
import { createOutboxRelay, type OutboxRelay } from './relay';
import type { OutboxStore } from './store';

/** An adapter that refuses every publish while `down` is set, and counts the attempts. */
function switchable(inner: BrokerAdapter) {
  const control = { down: false, attempts: 0 };
  const adapter: BrokerAdapter = {
    name: inner.name,
    capabilities: inner.capabilities,
    get state() {
      return inner.state;
    },
    connect: () => inner.connect(),
    subscribe: (spec, handler) => inner.subscribe(spec, handler),
    close: (options) => inner.close(options),
    publish: (records: readonly OutgoingRecord[]) => {
      control.attempts++;
      if (control.down) return Promise.reject(new ConnectionError('broker unreachable (test)'));
      return inner.publish(records);
    },
  };
  return { adapter, control };
}

/** Collects the order ids each key's events arrive in. */
function ordersByKey(bus: TestBus, group: string) {
  const seen = new Map<string, number[]>();
  bus.subscribe(OrderPlaced, { group, ordering: 'key', concurrency: 8 }, (event) => {
    const list = seen.get(event.data.orderId) ?? [];
    list.push(event.data.total);
    seen.set(event.data.orderId, list);
  });
  return seen;
}

let relays: OutboxRelay[] = [];
let buses: TestBus[] = [];
afterEach(async () => {
  await Promise.all(relays.map((relay) => relay.stop()));
  await Promise.all(buses.map((bus) => bus.stop()));
  relays = [];
  buses = [];
});

function setup(options: { pollIntervalMs?: number; concurrency?: number; batchSize?: number } = {}) {
  const bus = createTestBus();
  buses.push(bus);
  const outbox = createMemoryOutbox({ bus });
  const relay = createOutboxRelay({ store: outbox, bus, ...options });
  relays.push(relay);
  return { bus, outbox, relay };
}

async function writeSequences(outbox: MemoryOutbox, keys: number, perKey: number) {
  for (let seq = 0; seq < perKey; seq++) {
    await outbox.writeBatch(
      Array.from({ length: keys }, (_, k) => batchEntry(OrderPlaced, order(`k${k}`, seq))),
    );
  }
}

describe('outbox relay', () => {
  it('publishes every record once, keeping per-key order across concurrent batches', async () => {
    const { bus, outbox, relay } = setup({ concurrency: 3, batchSize: 7 });
    const seen = ordersByKey(bus, 'orders');
    await bus.start();
    await relay.start();
    await writeSequences(outbox, 10, 30);
    await bus.waitFor({ group: 'orders', outcome: 'handled' }, { count: 300, timeoutMs: 20_000 });
    for (let k = 0; k < 10; k++) expect(seen.get(`k${k}`)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    const stats = await relay.stats();
    expect(stats).toMatchObject({ published: 300, pending: 0, lagMs: 0, failures: 0, state: 'running' });
    expect(bus.deliveries).toHaveLength(300);
  });

  it('wakes up on a write instead of waiting for the next poll', async () => {
    const { bus, outbox, relay } = setup({ pollIntervalMs: 600_000 });
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    await relay.start();
    // The first poll found nothing; only the write's notification can bring this one out.
    const { id } = await outbox.write(OrderPlaced, order('o-1'));
    await bus.waitFor({ id, group: 'g', outcome: 'handled' });
  });

  it('polls a store that cannot notify', async () => {
    const bus = createTestBus();
    buses.push(bus);
    const outbox = createMemoryOutbox({ bus });
    const silent: OutboxStore = { claim: (n) => outbox.claim(n), stats: () => outbox.stats() };
    const relay = createOutboxRelay({ store: silent, bus, pollIntervalMs: 20 });
    relays.push(relay);
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    await relay.start();
    const { id } = await outbox.write(OrderPlaced, order('o-1'));
    await bus.waitFor({ id, group: 'g', outcome: 'handled' });
  });

  it('backs off while the broker is down and catches up with nothing lost', async () => {
    const broker = createMemoryBroker();
    const bus = createTestBus({ broker });
    buses.push(bus);
    const { adapter, control } = switchable(createMemoryAdapter({ broker }));
    const outbox = createMemoryOutbox({ bus });
    const errors: string[] = [];
    const relay = createOutboxRelay({
      store: outbox,
      adapter,
      backoff: { initialDelayMs: 20, maxDelayMs: 200 },
      onError: (error, context) => errors.push(`${context.during}: ${error.message}`),
    });
    relays.push(relay);
    const seen = ordersByKey(bus, 'orders');
    await bus.start();
    control.down = true;
    await relay.start();
    await writeSequences(outbox, 3, 20);
    // Wait for a few refused attempts, then check that the relay is pausing between them.
    while (control.attempts < 4) await new Promise((resolve) => setTimeout(resolve, 10));
    const stats = await relay.stats();
    expect(stats.consecutiveFailures).toBeGreaterThanOrEqual(4);
    expect(stats.pending).toBe(60);
    expect(errors[0]).toBe('publish: broker unreachable (test)');
    const attemptsWhileDown = control.attempts;
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Without backoff this would be thousands of attempts; with it, a handful at most.
    expect(control.attempts - attemptsWhileDown).toBeLessThan(10);

    control.down = false;
    await bus.waitFor({ group: 'orders', outcome: 'handled' }, { count: 60, timeoutMs: 10_000 });
    for (let k = 0; k < 3; k++) expect(seen.get(`k${k}`)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await relay.stats()).toMatchObject({ pending: 0, consecutiveFailures: 0, published: 60 });
  });

  it('writes every failure to its logger, console by default, so an unroutable record is never silent', async () => {
    const broker = createMemoryBroker();
    const bus = createTestBus({ broker });
    buses.push(bus);
    const { adapter, control } = switchable(createMemoryAdapter({ broker }));
    control.down = true;
    const outbox = createMemoryOutbox({ bus });
    const lines: string[] = [];
    const logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (fields: Record<string, unknown>, message: string) =>
        lines.push(`warn ${fields.records} ${message}`),
      error: (_fields: Record<string, unknown>, message: string) => lines.push(`error ${message}`),
    };
    const relay = createOutboxRelay({ store: outbox, adapter, logger, backoff: { initialDelayMs: 20 } });
    relays.push(relay);
    await relay.start();
    await outbox.write(OrderPlaced, order('k1', 1));
    while (lines.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(lines[0]).toMatch(
      /^warn 1 outbox relay could not publish 1 record\(s\); they stay in the outbox .*broker unreachable \(test\)/,
    );

    // With neither a logger nor onError, the lines go to the console.
    const written: unknown[][] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void written.push(args);
    try {
      const store = createMemoryOutbox({ bus });
      const quiet = createOutboxRelay({ store, adapter });
      relays.push(quiet);
      await quiet.start();
      await store.write(OrderPlaced, order('k2', 1));
      while (written.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      console.warn = warn;
    }
    expect(String(written[0]![1])).toMatch(/outbox relay could not publish/);
  });

  it('parks a record the broker will never take, and publishes the rest in order', async () => {
    const broker = createMemoryBroker();
    const bus = createTestBus({ broker });
    buses.push(bus);
    // The relay's adapter takes smaller bodies than the bus that encoded them.
    const small = createMemoryAdapter({ broker, maxMessageBytes: 200 });
    const outbox = createMemoryOutbox({ bus });
    const parked: string[] = [];
    const relay = createOutboxRelay({
      store: outbox,
      adapter: small,
      onError: (error, context) => {
        if (context.during === 'parked') parked.push(`${context.records[0]?.id}: ${error.name}`);
      },
    });
    relays.push(relay);
    const seen = ordersByKey(bus, 'orders');
    await bus.start();
    // The wire carries the data as given, so an extra field makes this one body too large.
    const oversize = { ...order('a', 4), note: 'y'.repeat(300) };
    await outbox.writeBatch([
      batchEntry(OrderPlaced, order('a', 1)),
      batchEntry(OrderPlaced, order('a', 2)),
      batchEntry(OrderPlaced, order('a', 3)),
      batchEntry(OrderPlaced, oversize),
      batchEntry(OrderPlaced, order('a', 5)),
    ]);
    await relay.start();
    await bus.waitFor({ group: 'orders', outcome: 'handled' }, { count: 4 });
    expect(seen.get('a')).toEqual([1, 2, 3, 5]);
    expect(parked).toEqual(['4: MessageTooLargeError']);
    expect(await relay.stats()).toMatchObject({ pending: 0, failed: 1 });
  });

  it('finishes the batch in flight when stopped, and cannot start again', async () => {
    const { bus, outbox, relay } = setup();
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    await outbox.writeBatch(Array.from({ length: 50 }, (_, i) => batchEntry(OrderPlaced, order(`o-${i}`))));
    await relay.start();
    await relay.stop();
    expect(relay.state).toBe('stopped');
    const { pending, published } = await relay.stats();
    expect(pending + published).toBe(50);
    await expect(relay.start()).rejects.toBeInstanceOf(ClosedError);
  });

  it('stops when its signal aborts', async () => {
    const controller = new AbortController();
    const bus = createTestBus();
    buses.push(bus);
    const relay = createOutboxRelay({
      store: createMemoryOutbox({ bus }),
      bus,
      signal: controller.signal,
    });
    await relay.start();
    controller.abort();
    await relay.stop();
    expect(relay.state).toBe('stopped');
  });

  it('checks its options', () => {
    const bus = createBus({ source: 's' });
    const store = createMemoryOutbox({ bus });
    // @ts-expect-error: a store is required
    expect(() => createOutboxRelay({ bus })).toThrow(ConfigError);
    expect(() => createOutboxRelay({ store })).toThrow(/either a bus or an adapter/);
    expect(() => createOutboxRelay({ store, bus, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => createOutboxRelay({ store, bus, backoff: { maxDelayMs: -1 } })).toThrow(
      /backoff.maxDelayMs/,
    );
    const amqpLike = {
      ...createMemoryAdapter(),
      capabilities: { ...bus.adapter.capabilities, headerPrefix: 'x-' },
    };
    expect(() => createOutboxRelay({ store, adapter: amqpLike })).toThrow(/header prefix "ce_"/);
  });
});
