import { createHash } from 'node:crypto';
import { Collector, eventually, LogCapture, ObserverLog, quietPeriod } from '@tidings/conformance';
import { createBus, defineEvent } from '@tidings/core';
import { DEAD_LETTER_HEADERS, type IncomingRecord, type Settlement } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loggingTo, rawProduce, subscribeSpec, testAdmin, useKafka } from './helpers';

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

  it('dead-letters records at and over the limit that their topic let in, and commits past them', async () => {
    const { topic, group } = kafka.names('huge');
    // The topic takes records up to 4 MiB; the dead-letter topic the adapter makes, the default 1 MiB.
    const admin = await testAdmin();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(4 << 20) }] },
      ],
    });
    const Ping = defineEvent({ type: 'test.ping', topic, schema: z.object({ n: z.number() }) });
    const handled: number[] = [];
    const logs = new LogCapture();
    const runBus = async () => {
      const bus = createBus({
        source: 'huge-test',
        adapter: await kafka.adapter({ consumer: { maxBytesPerPartition: 64 * 1024 } }),
        logger: logs,
      });
      bus.subscribe(
        Ping,
        { group, startFrom: 'earliest', retry: { maxAttempts: 2, initialDelayMs: 10 } },
        (event) => {
          handled.push(event.data.n);
        },
      );
      await bus.start();
      return bus;
    };
    const dead = new Collector();
    const reader = await kafka.adapter();
    await reader.subscribe(subscribeSpec(`${group}-reader`, `${topic}.${group}.dlq`), dead.handler('reader'));
    const bus = await runBus();

    // At the adapter's limit, with a 60 KB header: the full dead letter is over the broker's 1 MiB.
    const atLimit = Buffer.alloc(1_000_000, 'a');
    // Over it: the bus refuses it unread (MessageTooLargeError).
    const over = Buffer.alloc(2 << 20, 'b');
    // A header alone over the dead-letter topic's limit: its value is cut, the body kept.
    const hugeHeader = 'x'.repeat(1_200_000);
    // One request each: the topic's limit is per record batch.
    await rawProduce(topic, [{ key: 'at-limit', headers: { 'x-big': 'h'.repeat(60_000) }, body: atLimit }]);
    await rawProduce(topic, [{ key: 'over-limit', headers: {}, body: over }]);
    await rawProduce(topic, [
      { key: 'huge-header', headers: { 'x-huge': hugeHeader }, body: Buffer.from('small') },
    ]);
    for (let n = 0; n < 10; n++) await bus.publish(Ping, { n }, { key: 'behind' });

    // Both bodies are dropped from their dead letters: count deliveries, not distinct bodies.
    await dead.until(
      () => dead.deliveries.length >= 3,
      30_000,
      () => `${dead.deliveries.length} of 3 dead letters`,
    );
    await eventually(
      () => handled.length >= 10,
      30_000,
      () => `${handled.length} of 10 events behind were handled`,
    );
    const letterOf = (key: string) => dead.deliveries.find((d) => d.record.key === key)!.record;
    const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
    const atLetter = letterOf('at-limit');
    expect(atLetter.headers[DEAD_LETTER_HEADERS.reason]).toMatch(/^DecodeError: /);
    expect(atLetter.body.byteLength).toBe(0);
    expect(atLetter.headers).toMatchObject({
      [DEAD_LETTER_HEADERS.reduced]: 'body',
      [DEAD_LETTER_HEADERS.originalBodyBytes]: '1000000',
      [DEAD_LETTER_HEADERS.originalBodySha256]: sha256(atLimit),
      'x-big': 'h'.repeat(60_000),
    });
    const overLetter = letterOf('over-limit');
    expect(overLetter.headers[DEAD_LETTER_HEADERS.reason]).toBe(
      'MessageTooLargeError: message of 2097152 bytes exceeds the limit of 1000000 bytes',
    );
    expect(overLetter.headers[DEAD_LETTER_HEADERS.originalBodySha256]).toBe(sha256(over));
    const headerLetter = letterOf('huge-header');
    expect(Buffer.from(headerLetter.body).toString()).toBe('small');
    expect(headerLetter.headers[DEAD_LETTER_HEADERS.reduced]).toBe('headers');
    expect(headerLetter.headers['x-huge']!.length).toBeLessThanOrEqual(256);
    expect(JSON.parse(headerLetter.headers[DEAD_LETTER_HEADERS.cutHeaders]!)).toEqual([
      { name: 'x-huge', bytes: 1_200_000, sha256: sha256(Buffer.from(hugeHeader)) },
    ]);
    // The bus said "dead-lettered" once per record, when it was true, and that they were reduced.
    const landed = await logs.until(/^event dead-lettered/, 10_000, 3);
    expect(landed).toHaveLength(3);
    expect(logs.matching(/^event dead-lettered.*\(reduced: body cut to fit the broker\)/)).toHaveLength(2);
    expect(logs.matching(/^event dead-lettered.*\(reduced: headers cut to fit the broker\)/)).toHaveLength(1);
    await bus.stop();

    // Committed past all of them: a new member of the group gets a new event and nothing again.
    const before = { handled: handled.length, dead: dead.deliveries.length };
    const next = await runBus();
    await next.publish(Ping, { n: 99 }, { key: 'behind' });
    await eventually(
      () => handled.includes(99),
      30_000,
      () => 'the restarted group did not handle a new event',
    );
    await quietPeriod(500);
    expect(handled.length).toBe(before.handled + 1);
    expect(dead.deliveries.length).toBe(before.dead);
    expect(handled.slice(0, 10)).toEqual([...Array(10).keys()]);
    await next.stop();
  }, 90_000);

  it('writes the minimal copy once when the broker refuses the copy that fitted the limit it knew', async () => {
    const { topic, group } = kafka.names('shrunk');
    const dlqTopic = `${topic}.dlq`;
    const logs = new LogCapture();
    const adapter = await kafka.adapter({ logger: loggingTo(logs), logLevel: 'warn' });
    const dead = new Collector();
    await adapter.subscribe(subscribeSpec(`${group}-reader`, dlqTopic), dead.handler('reader'));
    const observer = new ObserverLog();
    const toDlq = (record: IncomingRecord): Settlement => ({
      type: 'deadLetter',
      topic: dlqTopic,
      reason: 'NonRetryableError: poison',
      headers: {
        [DEAD_LETTER_HEADERS.reason]: 'NonRetryableError: poison',
        'x-attempt': String(record.attempt),
      },
    });
    await adapter.subscribe(subscribeSpec(group, topic), async (record) => toDlq(record), observer);
    // The first dead letter makes the adapter read the topic's limit: Kafka's default.
    await adapter.publish([{ topic, key: 'first', headers: {}, body: Buffer.from('small') }]);
    await observer.until((o) => o.landed.length >= 1, 20_000);

    // An operator lowers it; once the broker refuses a 30 KB record, the change is in force.
    const admin = await testAdmin();
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: 2, name: dlqTopic, configEntries: [{ name: 'max.message.bytes', value: '20000' }] },
      ],
    });
    for (;;) {
      const refused = await rawProduce(dlqTopic, [
        { key: 'probe', headers: {}, body: Buffer.alloc(30_000) },
      ]).then(
        () => false,
        (error: { type?: string; cause?: { type?: string } }) =>
          (error.cause?.type ?? error.type) === 'MESSAGE_TOO_LARGE',
      );
      if (refused) break;
      await quietPeriod(100);
    }

    const body = Buffer.alloc(100_000, 'z');
    await adapter.publish([{ topic, key: 'big', headers: { 'x-long': 'v'.repeat(1_000) }, body }]);
    await observer.until((o) => o.landed.length >= 2, 20_000);
    const letter = await dead
      .until(
        () => dead.deliveries.some((d) => d.record.key === 'big'),
        20_000,
        () => 'the minimal copy did not land',
      )
      .then(() => dead.deliveries.find((d) => d.record.key === 'big')!.record);
    expect(letter.body.byteLength).toBe(0);
    expect(letter.headers[DEAD_LETTER_HEADERS.reduced]).toBe('headers,body');
    expect(letter.headers[DEAD_LETTER_HEADERS.originalBodyBytes]).toBe('100000');
    expect(letter.headers[DEAD_LETTER_HEADERS.reason]).toBe('NonRetryableError: poison');
    expect(observer.landed[1]!.landed).toEqual({
      topic: dlqTopic,
      reason: 'NonRetryableError: poison',
      reduced: ['headers', 'body'],
    });
    expect(observer.failed).toEqual([]);
    expect(logs.matching(/refused the dead letter .* for its size; writing the minimal copy/)).toHaveLength(
      1,
    );
  });

  it('reports a dead letter the broker will never take, keeps the record, and does not loop', async () => {
    const { topic, group } = kafka.names('nowhere');
    const admin = await testAdmin();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    const logs = new LogCapture();
    // Operators own the topics, and nobody made the dead-letter topic.
    const adapter = await kafka.adapter({ topics: { create: false }, logger: loggingTo(logs) });
    const observer = new ObserverLog();
    const seen = new Collector();
    const subscription = await adapter.subscribe(
      subscribeSpec(group, topic),
      seen.handler('only', (record) =>
        record.key === 'poison'
          ? {
              type: 'deadLetter',
              topic: `${topic}.missing-dlq`,
              reason: 'NonRetryableError: poison',
              headers: {},
            }
          : { type: 'ack' },
      ),
      observer,
    );
    await adapter.publish([
      { topic, key: 'poison', headers: {}, body: Buffer.from('poison') },
      ...Array.from({ length: 5 }, (_, i) => ({
        topic,
        key: `ok-${i}`,
        headers: {},
        body: Buffer.from(`ok-${i}`),
      })),
    ]);
    await observer.until((o) => o.failed.length >= 1, 20_000);
    // The records behind it are handled; the poison stays unsettled, retried slowly, not in a loop.
    await seen.untilDistinct(6, 20_000);
    await quietPeriod(2_000);
    expect(observer.failed).toHaveLength(1);
    expect(observer.failed[0]!.error).toMatchObject({ code: 'CONFIG' });
    expect(observer.failed[0]!.error.message).toContain(`${topic}.missing-dlq`);
    expect(observer.landed).toEqual([]);
    expect(subscription.lastError?.message).toContain('does not exist and topics.create is false');
    expect(subscription.state).toBe('running');
    expect(seen.ofBody('poison')).toHaveLength(1);
    const failures = logs.matching(/dead-lettering .* failed/);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toMatch(/the broker says for good\); trying again in 30000 ms/);
  });
});
