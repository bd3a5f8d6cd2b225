import type { Settlement } from '@tidings/core/adapter';
import { expect } from 'vitest';
import { ACK, bodyText, Collector, deferred, ObserverLog, quietPeriod } from '../collector';
import { records } from '../fixture';
import type { Scenario } from '../scenario';

function retry(delayMs: number, attempt: number): Settlement {
  return { type: 'retry', delayMs, headers: { 'tidings-attempt': String(attempt + 1) } };
}

const needsRedelivery = (c: { redelivery: boolean }): string | undefined =>
  c.redelivery ? undefined : 'the adapter does not redeliver (at-most-once)';

export const redeliveryAfterFailure: Scenario = {
  name: 'redelivery-after-failure',
  title: 'redelivers a record settled with retry, attempt rising, without holding back other records',
  unsupported: needsRedelivery,
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('redeliver');
    const collector = new Collector();
    const retryDelay = 500;
    await adapter.subscribe(
      fx.spec({ group: fx.group('redeliver'), topics: [topic] }),
      collector.handler('only', (record) =>
        bodyText(record) === 'poison' && record.attempt < 3 ? retry(retryDelay, record.attempt) : ACK,
      ),
    );
    await adapter.publish([
      { topic, key: 'poison-key', headers: { 'x-test': 'kept' }, body: Buffer.from('poison') },
    ]);
    await adapter.publish(records(topic, 'fine', 20, { key: (i) => `fine-${i}` }));
    await collector.until(
      () => collector.ofBody('poison').length >= 3 && collector.distinctBodies().size >= 21,
      settings.deliveryTimeoutMs + 2 * retryDelay,
      () =>
        `poison delivered ${collector.ofBody('poison').length} times, ${collector.distinctBodies().size - 1} of 20 others`,
    );
    const poison = collector.ofBody('poison');
    expect(poison.map((d) => d.record.attempt)).toEqual([1, 2, 3]);
    expect(poison.every((d) => d.record.headers['x-test'] === 'kept')).toBe(true);
    expect(Buffer.from(poison[2]!.record.body).toString()).toBe('poison');
    // The other records were not held back behind the failing one.
    const lastFine = Math.max(
      ...collector.deliveries.filter((d) => bodyText(d.record) !== 'poison').map((d) => d.at),
    );
    expect(lastFine, 'other records waited for the failing record').toBeLessThan(poison[1]!.at);
  },
};

export const unsettledRedelivered: Scenario = {
  name: 'unsettled-redelivered',
  title: 'gives a record left unsettled by a closing subscriber to the next member of its group',
  unsupported: needsRedelivery,
  async run(fx, settings) {
    const topic = fx.topic('unsettled');
    const group = fx.group('unsettled');
    const first = new Collector();
    const never = deferred<Settlement>();
    const adapterA = await fx.adapter();
    const subscriptionA = await adapterA.subscribe(
      // Concurrency 1: the stuck record holds the only slot, which catches read loops that wait
      // for room while the subscription closes.
      fx.spec({ group, topics: [topic], handlerTimeoutMs: 2_000, concurrency: 1 }),
      first.handler('a', () => never.promise),
    );
    await adapterA.publish([{ topic, key: 'stuck', headers: {}, body: Buffer.from('stuck') }]);
    await first.untilDistinct(1, settings.deliveryTimeoutMs);
    // The subscriber goes away without settling: only the abort ends its close.
    await fx.closeSubscription(subscriptionA, 200);

    const second = new Collector();
    const adapterB = await fx.adapter();
    await adapterB.subscribe(
      fx.spec({ group, topics: [topic], handlerTimeoutMs: 2_000 }),
      second.handler('b'),
    );
    await second.until(
      () => second.ofBody('stuck').length >= 1,
      settings.redeliveryTimeoutMs,
      () => 'the unsettled record never reached the next member',
    );
    if (fx.capabilities.deliveryCount) {
      expect(second.ofBody('stuck')[0]!.record.attempt).toBeGreaterThanOrEqual(2);
    }
    never.resolve(ACK);
  },
};

export const retryDelay: Scenario = {
  name: 'retry-delay',
  title: 'honours the delay of a retry, within the declared tolerance',
  unsupported: (c) => (c.delayedRetry ? undefined : 'the adapter does not support delayed retry'),
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('delay');
    const collector = new Collector();
    const delays = [300, 1_500];
    const settledAt = new Map<string, number>();
    await adapter.subscribe(
      fx.spec({ group: fx.group('delay'), topics: [topic] }),
      collector.handler('only', (record) => {
        if (record.attempt > 1) return ACK;
        const text = bodyText(record);
        settledAt.set(text, performance.now());
        return retry(Number(text.split('-')[1]), record.attempt);
      }),
    );
    await adapter.publish(
      delays.map((ms) => ({ topic, key: `d${ms}`, headers: {}, body: Buffer.from(`delay-${ms}`) })),
    );
    await collector.until(
      () => delays.every((ms) => collector.ofBody(`delay-${ms}`).length >= 2),
      settings.deliveryTimeoutMs + Math.max(...delays) + fx.capabilities.delayToleranceMs,
      () => 'a delayed retry never arrived',
    );
    for (const ms of delays) {
      const again = collector.ofBody(`delay-${ms}`)[1]!;
      const waited = again.at - settledAt.get(`delay-${ms}`)!;
      // 20 ms of slack for timer granularity on the early side.
      expect(waited, `retry after ${ms} ms arrived early`).toBeGreaterThanOrEqual(ms - 20);
      expect(waited, `retry after ${ms} ms arrived later than the declared tolerance`).toBeLessThanOrEqual(
        ms + fx.capabilities.delayToleranceMs,
      );
      expect(again.record.attempt).toBe(2);
    }
  },
};

export const deadLetter: Scenario = {
  name: 'dead-letter',
  title: 'moves a dead-lettered record to the dead-letter topic with its metadata, and goes on',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('dlq-source');
    const dlqTopic = fx.topic('dlq-target');
    const group = fx.group('dlq');
    const main = new Collector();
    const dead = new Collector();
    const observer = new ObserverLog();
    await adapter.subscribe(
      fx.spec({ group: fx.group('dlq-reader'), topics: [dlqTopic] }),
      dead.handler('reader'),
    );
    await adapter.subscribe(
      fx.spec({ group, topics: [topic] }),
      main.handler('main', (record) =>
        bodyText(record) === 'bad'
          ? {
              type: 'deadLetter',
              topic: dlqTopic,
              reason: 'ValidationError: total must be positive',
              headers: {
                'tidings-dlq-reason': 'ValidationError: total must be positive',
                'tidings-dlq-attempts': String(record.attempt),
                'tidings-dlq-original-topic': record.topic,
                'tidings-dlq-group': group,
              },
            }
          : ACK,
      ),
      observer,
    );
    await adapter.publish([
      { topic, key: 'bad-key', headers: { 'x-original': 'yes' }, body: Buffer.from('bad') },
    ]);
    await adapter.publish(records(topic, 'good', 5, { key: () => 'bad-key' }));

    await dead.untilDistinct(1, settings.deliveryTimeoutMs);
    await main.untilDistinct(6, settings.deliveryTimeoutMs);
    const letter = dead.deliveries[0]!.record;
    expect(bodyText(letter)).toBe('bad');
    expect(letter.key).toBe('bad-key');
    expect(letter.headers).toMatchObject({
      'x-original': 'yes',
      'tidings-dlq-reason': 'ValidationError: total must be positive',
      'tidings-dlq-attempts': '1',
      'tidings-dlq-original-topic': topic,
      'tidings-dlq-group': group,
    });
    // The adapter tells the core once the dead letter is stored, so that the core's log says so
    // only when it is true; a full copy is not reduced.
    await observer.until((log) => log.landed.length >= 1, settings.deliveryTimeoutMs);
    expect(observer.landed[0]!.landed).toEqual({
      topic: dlqTopic,
      reason: 'ValidationError: total must be positive',
      reduced: [],
    });
    expect(bodyText(observer.landed[0]!.record)).toBe('bad');
    // Dead-lettered means done for the group: it does not come back.
    await quietPeriod(300);
    expect(main.ofBody('bad').length).toBe(1);
    expect(dead.deliveries.length).toBe(1);
    expect(observer.landed.length).toBe(1);
    expect(observer.failed).toEqual([]);
  },
};

export const deadLetterKept: Scenario = {
  name: 'dead-letter-kept',
  title: 'keeps a dead letter until its group reads the dead-letter topic, even if nobody read it before',
  unsupported: (c) =>
    c.nativeDeadLetter ? undefined : 'the adapter does not store dead letters on the broker',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('kept-source');
    const dlqTopic = fx.topic('kept-target');
    const group = fx.group('kept');
    const main = new Collector();
    await adapter.subscribe(
      fx.spec({ group, topics: [topic] }),
      main.handler('main', () => ({
        type: 'deadLetter',
        topic: dlqTopic,
        reason: 'poison',
        headers: { 'tidings-dlq-reason': 'poison', 'tidings-dlq-group': group },
      })),
    );
    await adapter.publish([{ topic, key: 'k', headers: { 'x-original': 'yes' }, body: Buffer.from('kept') }]);
    await main.untilDistinct(1, settings.deliveryTimeoutMs);
    // Only now does anyone read the dead-letter topic: the same group, from the start.
    const dead = new Collector();
    await adapter.subscribe(
      fx.spec({ group, topics: [dlqTopic], startFrom: 'earliest' }),
      dead.handler('reader'),
    );
    await dead.untilDistinct(1, settings.deliveryTimeoutMs);
    expect(bodyText(dead.deliveries[0]!.record)).toBe('kept');
    expect(dead.deliveries[0]!.record.headers).toMatchObject({
      'x-original': 'yes',
      'tidings-dlq-reason': 'poison',
    });
  },
};

export const attemptNumbers: Scenario = {
  name: 'attempt-numbers',
  title:
    'counts attempts by the one rule: up by one after a retry, and after a redelivery of an unsettled record where the broker counts deliveries',
  unsupported: needsRedelivery,
  async run(fx, settings) {
    const topic = fx.topic('attempts');
    const group = fx.group('attempts');
    const first = new Collector();
    const never = deferred<Settlement>();
    const adapterA = await fx.adapter();
    // The first member retries the record once, then leaves it unsettled on its second attempt.
    const subscriptionA = await adapterA.subscribe(
      fx.spec({ group, topics: [topic], handlerTimeoutMs: 2_000, concurrency: 1 }),
      first.handler('a', (record) => (record.attempt === 1 ? retry(50, record.attempt) : never.promise)),
    );
    await adapterA.publish([{ topic, key: 'counted', headers: {}, body: Buffer.from('counted') }]);
    await first.until(
      () => first.deliveries.length >= 2,
      settings.deliveryTimeoutMs,
      () => `${first.deliveries.length} of 2 deliveries to the first member`,
    );
    expect(first.deliveries.map((d) => d.record.attempt)).toEqual([1, 2]);
    await fx.closeSubscription(subscriptionA, 200);

    // The next member gets it again: one more attempt where the broker counts deliveries, the
    // same attempt where it cannot (the capability says which).
    const second = new Collector();
    const adapterB = await fx.adapter();
    await adapterB.subscribe(
      fx.spec({ group, topics: [topic], handlerTimeoutMs: 2_000 }),
      second.handler('b', (record) => (record.attempt < 4 ? retry(50, record.attempt) : ACK)),
    );
    await second.until(
      () => second.deliveries.some((d) => d.record.attempt >= 4),
      settings.redeliveryTimeoutMs,
      () => `attempts seen by the next member: ${second.deliveries.map((d) => d.record.attempt).join(', ')}`,
    );
    const attempts = second.deliveries.map((d) => d.record.attempt);
    // Where the broker counts deliveries, one more; where it cannot, never fewer (an adapter may
    // still know the record was delivered before, as a RabbitMQ classic queue's redelivered flag
    // tells).
    if (fx.capabilities.deliveryCount) expect(attempts[0]).toBe(3);
    else expect([2, 3]).toContain(attempts[0]);
    // Each retry after that raises the attempt by one.
    expect(attempts).toEqual(Array.from({ length: 4 - attempts[0]! + 1 }, (_, i) => attempts[0]! + i));
    never.resolve(ACK);
  },
};
