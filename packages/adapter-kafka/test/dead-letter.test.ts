import { Collector } from '@tidings/conformance';
import { createBus, defineEvent } from '@tidings/core';
import { DEAD_LETTER_HEADERS } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { subscribeSpec, useKafka } from './helpers';

const kafka = useKafka('d');

describe('kafka dead letters', () => {
  it('moves a poison message to the dead-letter topic without stalling its partition', async () => {
    const { topic, group } = kafka.names('orders');
    const OrderPlaced = defineEvent({
      type: 'order.placed',
      topic,
      schema: z.object({ orderId: z.string(), poison: z.boolean().optional() }),
    });
    const adapter = await kafka.adapter();
    const bus = createBus({ source: 'dead-letter-test', adapter });
    const handledAt = new Map<string, number>();
    bus.subscribe(
      OrderPlaced,
      {
        group,
        ordering: 'none',
        startFrom: 'earliest',
        concurrency: 4,
        retry: { maxAttempts: 3, initialDelayMs: 300, jitter: 0 },
      },
      async (event) => {
        if (event.data.poison) throw new Error(`order ${event.data.orderId} is poisoned`);
        handledAt.set(event.data.orderId, performance.now());
      },
    );
    await bus.start();

    const reader = await kafka.adapter();
    const dead = new Collector();
    await reader.subscribe(subscribeSpec(`${group}-reader`, `${topic}.${group}.dlq`), dead.handler('reader'));

    // One key, so every record lands on the poison's partition.
    const poison = await bus.publish(OrderPlaced, { orderId: 'o-poison', poison: true }, { key: 'same' });
    const goods = 40;
    for (let i = 0; i < goods; i++) await bus.publish(OrderPlaced, { orderId: `o-${i}` }, { key: 'same' });
    // A record that is not a CloudEvent at all: straight to the dead-letter topic.
    await adapter.publish([{ topic, key: 'same', headers: {}, body: Buffer.from('not an event') }]);

    await dead.untilDistinct(2, 30_000);
    const letters = new Map(dead.deliveries.map((d) => [Buffer.from(d.record.body).toString(), d]));
    const letter = [...letters.values()].find((d) => d.record.headers.ce_id === poison.id)!;
    expect(letter, 'the poison message never reached the dead-letter topic').toBeDefined();
    expect(handledAt.size).toBe(goods);
    // Every other record of the partition was handled before the poison ran out of attempts.
    expect(Math.max(...handledAt.values())).toBeLessThan(letter.at);

    expect(letter.record.key).toBe('same');
    expect(JSON.parse(Buffer.from(letter.record.body).toString())).toEqual({
      orderId: 'o-poison',
      poison: true,
    });
    expect(letter.record.headers).toMatchObject({
      ce_type: 'order.placed',
      ce_source: 'dead-letter-test',
      [DEAD_LETTER_HEADERS.reason]: 'Error: order o-poison is poisoned',
      [DEAD_LETTER_HEADERS.attempts]: '3',
      [DEAD_LETTER_HEADERS.originalTopic]: topic,
      [DEAD_LETTER_HEADERS.group]: group,
      [DEAD_LETTER_HEADERS.originalKey]: 'same',
    });
    expect(letter.record.headers[DEAD_LETTER_HEADERS.originalPosition]).toMatch(
      new RegExp(`^${topic}/\\d+@0$`),
    );

    const garbage = letters.get('not an event')!;
    expect(garbage.record.headers[DEAD_LETTER_HEADERS.reason]).toMatch(/^DecodeError: /);
    expect(garbage.record.headers[DEAD_LETTER_HEADERS.attempts]).toBe('1');

    await bus.stop();
  });
});
