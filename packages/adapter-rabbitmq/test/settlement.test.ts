import { Collector, quietPeriod } from '@tidings/conformance';
import { createBus, defineEvent } from '@tidings/core';
import type { Settlement } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { workQueueName } from '../src/index';
import { listQueues } from './support/broker';
import { useBroker } from './support/fixture';

const broker = useBroker('settlement');
const { exchange, spec } = broker;
const adapter = () => broker.adapter();

/** Messages in a queue right now, or undefined when it does not exist. */
async function depth(queue: string): Promise<number | undefined> {
  const channel = await broker.raw().createChannel();
  channel.on('error', () => undefined);
  try {
    const { messageCount } = await channel.checkQueue(queue);
    await channel.close();
    return messageCount;
  } catch {
    return undefined;
  }
}

async function untilDepth(queue: string, expected: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = await depth(queue);
    if (count === expected) return;
    if (Date.now() > deadline)
      throw new Error(`queue ${queue} holds ${String(count)} messages, not ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const OrderPlaced = defineEvent({
  type: 'order.placed',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  key: (data) => data.orderId,
});

describe('settling records on RabbitMQ', () => {
  it('parks a poison message in the dead-letter queue with its failure metadata, and goes on', async () => {
    const bus = createBus({ source: 'billing-service', adapter: await adapter() });
    const attempts: number[] = [];
    const billed: string[] = [];
    bus.subscribe(
      OrderPlaced,
      { group: 'billing', retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 200, jitter: 0 } },
      async (event, ctx) => {
        if (event.data.orderId === 'poison') {
          attempts.push(ctx.attempt);
          throw new Error('card declined');
        }
        billed.push(event.data.orderId);
      },
    );
    await bus.start();
    const poison = await bus.publish(OrderPlaced, { orderId: 'poison', total: 13 });
    await bus.publish(OrderPlaced, { orderId: 'fine', total: 42 });

    // Nobody consumes the dead-letter topic: the group's dead-letter queue keeps the record.
    const dlq = workQueueName(exchange, 'billing', 'order.placed.billing.dlq');
    await untilDepth(dlq, 1, 20_000);
    await untilDepth(workQueueName(exchange, 'billing', 'order.placed'), 0, 5_000);
    expect(attempts).toEqual([1, 2, 3]);
    expect(billed).toEqual(['fine']);

    // The same group reads its dead letters like any other topic.
    const reader = await adapter();
    const dead = new Collector();
    await reader.subscribe(spec('billing', ['order.placed.billing.dlq']), dead.handler('reader'));
    await dead.untilDistinct(1, 10_000);
    const letter = dead.deliveries[0]!.record;
    expect(letter.topic).toBe('order.placed.billing.dlq');
    expect(letter.key).toBe('poison');
    expect(JSON.parse(Buffer.from(letter.body).toString())).toEqual({ orderId: 'poison', total: 13 });
    expect(letter.headers).toMatchObject({
      'cloudEvents:id': poison.id,
      'cloudEvents:type': 'order.placed',
      'cloudEvents:source': 'billing-service',
      'content-type': 'application/json',
      'tidings-dlq-reason': 'Error: card declined',
      'tidings-dlq-error-name': 'Error',
      'tidings-dlq-error-message': 'card declined',
      'tidings-dlq-attempts': '3',
      'tidings-dlq-original-topic': 'order.placed',
      'tidings-dlq-original-key': 'poison',
      'tidings-dlq-group': 'billing',
    });
    expect(letter.headers['tidings-dlq-original-position']).toBe(
      `${workQueueName(exchange, 'billing', 'order.placed')}#${poison.id}`,
    );
    expect(Date.parse(letter.headers['tidings-dlq-first-failure-at']!)).toBeLessThanOrEqual(
      Date.parse(letter.headers['tidings-dlq-last-failure-at']!),
    );
    // Broker bookkeeping (x-death, delay bits) stays out of the record.
    expect(
      Object.keys(letter.headers).filter((name) => name.startsWith('x-') || name.startsWith('tidings-delay')),
    ).toEqual([]);
    await bus.stop();
  });

  it('honours retry delays: never early, late by less than the declared tolerance', async () => {
    const subscriber = await adapter();
    const tolerance = subscriber.capabilities.delayToleranceMs;
    const delays = [0, 150, 1_000, 2_500];
    const settledAt = new Map<string, number>();
    const collector = new Collector();
    await subscriber.subscribe(
      spec('delays', ['delay.check']),
      collector.handler('only', (record): Settlement => {
        if (record.attempt > 1) return { type: 'ack' };
        const text = Buffer.from(record.body).toString();
        settledAt.set(text, performance.now());
        return { type: 'retry', delayMs: Number(text.split('-')[1]), headers: { 'tidings-attempt': '2' } };
      }),
    );
    await subscriber.publish(
      delays.map((ms) => ({
        topic: 'delay.check',
        key: `k${ms}`,
        headers: { 'x-kept': 'yes' },
        body: Buffer.from(`delay-${ms}`),
      })),
    );
    await collector.until(
      () => delays.every((ms) => collector.ofBody(`delay-${ms}`).length >= 2),
      20_000,
      () => 'a delayed retry did not arrive',
    );
    const lateness: string[] = [];
    for (const ms of delays) {
      const again = collector.ofBody(`delay-${ms}`)[1]!;
      const waited = again.at - settledAt.get(`delay-${ms}`)!;
      lateness.push(`${ms} ms +${Math.round(waited - ms)}`);
      expect(waited, `retry after ${ms} ms came early`).toBeGreaterThanOrEqual(ms - 2);
      expect(waited, `retry after ${ms} ms came too late`).toBeLessThanOrEqual(ms + tolerance);
      expect(again.record).toMatchObject({
        attempt: 2,
        topic: 'delay.check',
        key: `k${ms}`,
        headers: { 'x-kept': 'yes' },
      });
    }
    console.info(`[rabbitmq] retry lateness: ${lateness.join(', ')} (tolerance ${tolerance} ms)`);
    // 2,500 ms is 25 steps of 100 ms, 11001 in binary: levels of 100 to 1,600 ms, and the pass-through.
    expect((await listQueues(`${exchange}.delay.`)).sort()).toEqual(
      ['0ms', '100ms', '1600ms', '200ms', '400ms', '800ms'].map((ms) => `${exchange}.delay.${ms}`),
    );
  });

  it('counts deliveries its consumers never settled, on top of the attempt a retry published', async () => {
    const group = 'crashing';
    const topic = 'crash.check';
    const seen: number[] = [];
    const publisher = await adapter();
    // Attempt 1 is retried by re-publishing (the copy says attempt 2); then two consumers in a row
    // die holding it, and the broker's delivery count takes over.
    for (let member = 0; member < 3; member++) {
      const consumer = await adapter();
      const collector = new Collector();
      const subscription = await consumer.subscribe(
        spec(group, [topic]),
        collector.handler(`m${member}`, (record): Settlement | Promise<Settlement> => {
          seen.push(record.attempt);
          if (record.attempt === 1) return { type: 'retry', delayMs: 0, headers: { 'tidings-attempt': '2' } };
          return new Promise<Settlement>(() => undefined);
        }),
      );
      if (member === 0)
        await publisher.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('crash') }]);
      await collector.until(
        () => collector.deliveries.some((d) => d.record.attempt >= 2),
        10_000,
        () => `member ${member} saw attempts ${seen}`,
      );
      await subscription.close({ signal: AbortSignal.timeout(100) });
    }
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('stops delivering while paused and goes on after resume', async () => {
    const subscriber = await adapter();
    const collector = new Collector();
    const subscription = await subscriber.subscribe(
      spec('paused', ['pause.check']),
      collector.handler('only'),
    );
    subscription.pause();
    expect(subscription.state).toBe('paused');
    await subscriber.publish(
      Array.from({ length: 5 }, (_, i) => ({
        topic: 'pause.check',
        key: undefined,
        headers: {},
        body: Buffer.from(`p-${i}`),
      })),
    );
    await quietPeriod(300);
    expect(collector.deliveries).toEqual([]);
    subscription.resume();
    expect(subscription.state).toBe('running');
    await collector.untilDistinct(5, 10_000);
  });

  /**
   * A subscription on two topics with a concurrency of 1: each queue's consumer has a prefetch of
   * 1, so both records are delivered, one runs (held by `gate`) and the other waits in the process.
   */
  async function oneRunningOneWaiting(group: string) {
    const subscriber = await adapter();
    const topics = [`${group}.a`, `${group}.b`];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const collector = new Collector();
    const subscription = await subscriber.subscribe(
      spec(group, topics, 1),
      collector.handler('only', async () => {
        await gate;
        return { type: 'ack' };
      }),
    );
    await subscriber.publish(
      topics.map((topic) => ({ topic, key: undefined, headers: {}, body: Buffer.from(topic) })),
    );
    await collector.untilDistinct(1, 10_000);
    // Both queues empty: the broker has handed both records over.
    for (const topic of topics) await untilDepth(workQueueName(exchange, group, topic), 0, 10_000);
    return { subscription, collector, open, queues: topics.map((t) => workQueueName(exchange, group, t)) };
  }

  it('holds a received record no handler has started while paused, and starts it on resume', async () => {
    const { subscription, collector, open } = await oneRunningOneWaiting('held');
    subscription.pause();
    open();
    await quietPeriod(300);
    expect(collector.deliveries).toHaveLength(1);
    subscription.resume();
    await collector.untilDistinct(2, 10_000);
    // Held in the process, not given back: the broker counted no second delivery.
    expect(collector.deliveries.map((d) => d.record.attempt)).toEqual([1, 1]);
  });

  it('handles and settles a held record when it closes while paused', async () => {
    const { subscription, collector, open, queues } = await oneRunningOneWaiting('held-close');
    subscription.pause();
    const closed = subscription.close();
    open();
    await closed;
    expect(collector.deliveries.map((d) => d.record.attempt)).toEqual([1, 1]);
    for (const queue of queues) expect(await depth(queue)).toBe(0);
  });

  it('keeps the handlers of a subscription on several topics within its concurrency', async () => {
    const subscriber = await adapter();
    const topics = ['multi.a', 'multi.b', 'multi.c'];
    let running = 0;
    let most = 0;
    const collector = new Collector();
    await subscriber.subscribe(
      spec('multi', topics, 2),
      collector.handler('only', async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
        return { type: 'ack' };
      }),
    );
    await subscriber.publish(
      topics.flatMap((topic) =>
        Array.from({ length: 20 }, (_, i) => ({
          topic,
          key: undefined,
          headers: {},
          body: Buffer.from(`${topic}-${i}`),
        })),
      ),
    );
    await collector.untilDistinct(60, 20_000);
    expect(most).toBe(2);
  });

  it('takes its prefetch from the broker while running only its concurrency', async () => {
    const subscriber = await adapter();
    const topic = 'ahead';
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let running = 0;
    let most = 0;
    const collector = new Collector();
    await subscriber.subscribe(
      { ...spec('ahead', [topic], 1), prefetch: 4 },
      collector.handler('only', async () => {
        running++;
        most = Math.max(most, running);
        await gate;
        running--;
        return { type: 'ack' };
      }),
    );
    await subscriber.publish(
      Array.from({ length: 6 }, (_, i) => ({
        topic,
        key: undefined,
        headers: {},
        body: Buffer.from(`a-${i}`),
      })),
    );
    // Four delivered (one in its handler, three waiting), two still ready in the queue.
    await untilDepth(workQueueName(exchange, 'ahead', topic), 2, 10_000);
    expect(collector.deliveries).toHaveLength(1);
    release();
    await collector.untilDistinct(6, 20_000);
    expect(most).toBe(1);
  });
});
