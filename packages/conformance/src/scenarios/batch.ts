// Batch subscriptions (`bus.subscribeBatch`) over the adapter under test. Batches are formed in
// core from the records the adapter delivers, so these scenarios prove that the adapter delivers
// enough at once (its prefetch follows the batch size) and maps each event's own settlement.
import { type Bus, createBus, defineEvent, NonRetryableError } from '@tidings/core';
import type { IncomingRecord } from '@tidings/core/adapter';
import { expect } from 'vitest';
import { Collector, eventually, quietPeriod } from '../collector';
import type { Fixture } from '../fixture';
import type { Scenario } from '../scenario';

const Item = defineEvent({
  type: 'conformance.item',
  schema: {
    type: 'object',
    properties: {
      n: { type: 'integer' },
      fate: { type: 'string', enum: ['ack', 'retry', 'dead', 'exhaust'] },
    },
    required: ['n', 'fate'],
    additionalProperties: false,
  } as const,
});

type Fate = 'ack' | 'retry' | 'dead' | 'exhaust';

async function busOn(fx: Fixture): Promise<Bus> {
  return createBus({ source: 'conformance-batch', adapter: await fx.adapter() });
}

/** Publishes `count` items in batches of 100, returning their event ids in publish order. */
async function publishItems(
  bus: Bus,
  topic: string,
  count: number,
  shape: (n: number) => { fate: Fate; key: string },
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 100) {
    const entries = [];
    for (let n = start; n < Math.min(count, start + 100); n++) {
      const { fate, key } = shape(n);
      entries.push({ contract: Item, data: { n, fate }, options: { topic, key } });
    }
    const published = await bus.publishBatch(entries);
    ids.push(...published.map((event) => event.id));
  }
  return ids;
}

const needsRedelivery = (c: { redelivery: boolean }): string | undefined =>
  c.redelivery ? undefined : 'the adapter does not redeliver (at-most-once)';

export const batchConsumeAll: Scenario = {
  name: 'batch-consume-all',
  title: 'delivers every event once through subscribeBatch, in batches of at most maxSize',
  async run(fx, settings) {
    const topic = fx.topic('batch-all');
    const group = fx.group('batch-all');
    const maxSize = 50;
    const bus = await busOn(fx);
    const sizes: number[] = [];
    const handled: string[] = [];
    bus.subscribeBatch(
      Item,
      {
        group,
        topic,
        startFrom: fx.spec({ group, topics: [topic] }).startFrom,
        batch: { maxSize, maxWaitMs: 50 },
      },
      (events) => {
        sizes.push(events.length);
        for (const event of events) handled.push(event.id);
      },
    );
    await bus.start();
    try {
      const ids = await publishItems(bus, topic, settings.messages, (n) => ({
        fate: 'ack',
        key: `k${n % 16}`,
      }));
      await eventually(
        () => handled.length >= ids.length,
        settings.deliveryTimeoutMs * 2,
        () => `${handled.length} of ${ids.length} events handled`,
      );
      await quietPeriod(300);
      expect(new Set(handled).size, 'an event was handled twice').toBe(handled.length);
      expect(new Set(handled)).toEqual(new Set(ids));
      expect(Math.max(...sizes), 'a batch was larger than maxSize').toBeLessThanOrEqual(maxSize);
      expect(Math.min(...sizes), 'an empty batch was handed over').toBeGreaterThanOrEqual(1);
      // The adapter let more than one record in at a time (its prefetch follows the batch size).
      expect(Math.max(...sizes), 'every batch held a single event').toBeGreaterThan(1);
      const health = bus.health();
      expect(health.subscriptions.every((s) => s.state === 'running' && s.inFlight === 0)).toBe(true);
    } finally {
      await bus.stop();
    }
  },
};

export const batchSettlement: Scenario = {
  name: 'batch-settlement',
  title:
    'settles each event of a batch on its own: acked, retried with its attempt rising, or dead-lettered with the reason',
  unsupported: needsRedelivery,
  async run(fx, settings) {
    const topic = fx.topic('batch-settle');
    const group = fx.group('batch-settle');
    const dlqTopic = `${topic}.${group}.dlq`;
    const maxSize = 8;
    const fates: readonly Fate[] = ['ack', 'retry', 'dead', 'exhaust'];
    const count = 40;

    // Reads the dead-letter topic with the adapter alone, as an operator's tool would.
    const dead = new Collector();
    const reader = await fx.adapter();
    await reader.subscribe(
      fx.spec({ group: fx.group('batch-dlq'), topics: [dlqTopic] }),
      dead.handler('dlq'),
    );

    const bus = createBus({ source: 'conformance-batch', adapter: await fx.adapter() });
    const attempts = new Map<number, number[]>();
    const sizes: number[] = [];
    const acked = new Set<number>();
    bus.subscribeBatch(
      Item,
      {
        group,
        topic,
        startFrom: fx.spec({ group, topics: [topic] }).startFrom,
        retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50, jitter: 0 },
        batch: { maxSize, maxWaitMs: 30 },
      },
      (events, batch) => {
        sizes.push(events.length);
        for (const event of events) {
          const { n, fate } = event.data;
          const attempt = batch.contextOf(event).attempt;
          attempts.set(n, [...(attempts.get(n) ?? []), attempt]);
          if (fate === 'dead') batch.fail(event, new NonRetryableError(`refused ${n}`));
          else if (fate === 'exhaust') batch.fail(event, new Error(`still failing ${n}`));
          else if (fate === 'retry' && attempt === 1) batch.fail(event, new Error(`retry ${n}`));
          else acked.add(n);
        }
      },
    );
    await bus.start();
    const fateOf = (n: number): Fate => fates[n % fates.length]!;
    try {
      await publishItems(bus, topic, count, (n) => ({ fate: fateOf(n), key: `k${n}` }));
      const numberOf = (record: IncomingRecord): number =>
        (JSON.parse(Buffer.from(record.body).toString('utf8')) as { n: number }).n;
      const deadNumbers = () => new Set(dead.deliveries.map((d) => numberOf(d.record)));
      const wantAcked = Array.from({ length: count }, (_, n) => n).filter((n) =>
        ['ack', 'retry'].includes(fateOf(n)),
      );
      const wantDead = Array.from({ length: count }, (_, n) => n).filter((n) =>
        ['dead', 'exhaust'].includes(fateOf(n)),
      );
      await eventually(
        () => wantAcked.every((n) => acked.has(n)) && wantDead.every((n) => deadNumbers().has(n)),
        settings.deliveryTimeoutMs * 2,
        () =>
          `${wantAcked.filter((n) => acked.has(n)).length} of ${wantAcked.length} acked, ` +
          `${wantDead.filter((n) => deadNumbers().has(n)).length} of ${wantDead.length} dead-lettered`,
      );
      await quietPeriod(300);

      expect(Math.max(...sizes), 'a batch was larger than maxSize').toBeLessThanOrEqual(maxSize);
      for (let n = 0; n < count; n++) {
        const expected = { ack: [1], retry: [1, 2], dead: [1], exhaust: [1, 2, 3] }[fateOf(n)];
        expect(attempts.get(n), `attempts of event ${n} (${fateOf(n)})`).toEqual(expected);
      }
      expect(dead.deliveries, 'an event was dead-lettered twice').toHaveLength(wantDead.length);
      for (const delivery of dead.deliveries) {
        const n = numberOf(delivery.record);
        const { headers } = delivery.record;
        if (fateOf(n) === 'dead') {
          expect(headers['tidings-dlq-reason']).toBe(`NonRetryableError: refused ${n}`);
          expect(headers['tidings-dlq-attempts']).toBe('1');
        } else {
          expect(fateOf(n)).toBe('exhaust');
          expect(headers['tidings-dlq-reason']).toBe(`Error: still failing ${n}`);
          expect(headers['tidings-dlq-attempts']).toBe('3');
        }
        expect(headers['tidings-dlq-group']).toBe(group);
      }
    } finally {
      await bus.stop();
    }
  },
};

export const batchKeyOrder: Scenario = {
  name: 'batch-key-order',
  title: 'with ordering by key, puts at most one event of a key in a batch, in publish order across batches',
  unsupported: (c) => (c.ordering === 'key' ? undefined : 'the adapter does not order by key'),
  async run(fx, settings) {
    const topic = fx.topic('batch-order');
    const group = fx.group('batch-order');
    const keys = 6;
    const perKey = 20;
    const bus = await busOn(fx);
    const batches: { key: string; n: number }[][] = [];
    bus.subscribeBatch(
      Item,
      {
        group,
        topic,
        ordering: 'key',
        startFrom: fx.spec({ group, topics: [topic] }).startFrom,
        // More room than keys: the batch fills with one event per key and waits out the rest.
        batch: { maxSize: 16, maxWaitMs: 20 },
      },
      (events) => {
        batches.push(events.map((event) => ({ key: event.key ?? '', n: event.data.n })));
      },
    );
    await bus.start();
    try {
      const total = keys * perKey;
      await publishItems(bus, topic, total, (n) => ({ fate: 'ack', key: `key-${n % keys}` }));
      const handled = () => batches.reduce((sum, batch) => sum + batch.length, 0);
      await eventually(
        () => handled() >= total,
        settings.deliveryTimeoutMs * 2,
        () => `${handled()} of ${total} events handled`,
      );
      for (const batch of batches) {
        const batchKeys = batch.map((item) => item.key);
        expect(new Set(batchKeys).size, `two events of one key in a batch: ${batchKeys.join(', ')}`).toBe(
          batchKeys.length,
        );
      }
      const all = batches.flat();
      expect(all).toHaveLength(total);
      for (let k = 0; k < keys; k++) {
        const ns = all.filter((item) => item.key === `key-${k}`).map((item) => item.n);
        expect(ns, `order of key-${k}`).toEqual([...ns].sort((a, b) => a - b));
        expect(ns).toHaveLength(perKey);
      }
    } finally {
      await bus.stop();
    }
  },
};
