import { createHash } from 'node:crypto';
import { Collector, LogCapture, ObserverLog } from '@tidings/conformance';
import { createBus, defineEvent } from '@tidings/core';
import type { Settlement } from '@tidings/core/adapter';
import type { GetMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { workQueueName } from '../src/index';
import { useBroker } from './support/fixture';

const broker = useBroker('dead-letter');
const { exchange } = broker;

const Ping = defineEvent({ type: 'dl.ping', schema: z.object({ n: z.number() }) });

/** The largest header table amqplib can publish (its encoding buffer). */
const TABLE_LIMIT = 65_536;

/** A header table's size on the wire: a 4-byte length, then per header its name, a tag and a value length. */
function headerTableBytes(headers: Record<string, string>): number {
  let bytes = 4;
  for (const [name, value] of Object.entries(headers))
    bytes += 6 + Buffer.byteLength(name) + Buffer.byteLength(value);
  return bytes;
}

/** Publishes records as a foreign producer would, with amqplib alone, and waits for the confirms. */
async function publishRaw(
  topic: string,
  records: readonly { headers: Record<string, string>; body: Buffer; contentType?: string }[],
): Promise<void> {
  const channel = await broker.raw().createConfirmChannel();
  for (const record of records) {
    channel.publish(exchange, topic, record.body, {
      headers: record.headers,
      persistent: true,
      ...(record.contentType === undefined ? {} : { contentType: record.contentType }),
    });
  }
  await channel.waitForConfirms();
  await channel.close();
}

/** Takes `count` messages from a queue (basic.get), waiting for them; they are acked. */
async function take(queue: string, count: number, timeoutMs: number): Promise<GetMessage[]> {
  const channel = await broker.raw().createChannel();
  const taken: GetMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (taken.length < count) {
      const message = await channel.get(queue, { noAck: true });
      if (message !== false) taken.push(message);
      else if (Date.now() > deadline) {
        throw new Error(`${taken.length} of ${count} messages reached ${queue} within ${timeoutMs} ms`);
      } else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await channel.close();
  }
  return taken;
}

/** Messages ready in a queue. */
async function depth(queue: string): Promise<number> {
  const channel = await broker.raw().createChannel();
  const { messageCount } = await channel.checkQueue(queue);
  await channel.close();
  return messageCount;
}

function headerText(message: GetMessage, name: string): string | undefined {
  const value: unknown = message.properties.headers?.[name];
  return typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString() : undefined;
}

describe('dead letters and retry copies RabbitMQ cannot take as they are', () => {
  it('lands a record with a huge unknown type on its first delivery, reduced, with the real reason, and handles the records behind it', async () => {
    const topic = 'dl.huge';
    const group = 'typed';
    const logs = new LogCapture();
    const bus = createBus({ source: 'dl-test', adapter: await broker.adapter('bus'), logger: logs });
    const handled: number[] = [];
    bus.subscribe(
      Ping,
      { group, topic, retry: { maxAttempts: 3, initialDelayMs: 50, maxDelayMs: 100 } },
      (event) => {
        handled.push(event.data.n);
      },
    );
    await bus.start();

    // Two records of an unknown type: one whose header table is exactly as large as amqplib can
    // publish, one with a 63 KiB type. Their dead letters, with the failure metadata, are larger.
    const envelope = (id: string, type: string): Record<string, string> => ({
      'cloudEvents:specversion': '1.0',
      'cloudEvents:id': id,
      'cloudEvents:source': 'raw-producer',
      'cloudEvents:type': type,
      'tidings-key': id,
    });
    const room = TABLE_LIMIT - headerTableBytes(envelope('at-limit', ''));
    const atLimit = envelope('at-limit', 'u'.repeat(room));
    expect(headerTableBytes(atLimit)).toBe(TABLE_LIMIT);
    const huge = envelope('huge-type', 't'.repeat(63 * 1024));
    const body = Buffer.from('{"n":-1}');
    await publishRaw(topic, [
      { headers: atLimit, body, contentType: 'application/json' },
      { headers: huge, body, contentType: 'application/json' },
    ]);
    for (let n = 1; n <= 5; n++) await bus.publish(Ping, { n }, { topic, key: `behind-${n}` });

    const dlq = workQueueName(exchange, group, `${topic}.${group}.dlq`);
    const letters = await take(dlq, 2, 20_000);
    await expect.poll(() => handled.length, { timeout: 10_000 }).toBe(5);
    expect(handled.sort()).toEqual([1, 2, 3, 4, 5]);

    const originalOf = (letter: GetMessage) =>
      headerText(letter, 'tidings-key') === 'at-limit' ? atLimit : huge;
    expect(letters.map((l) => headerText(l, 'tidings-key')).sort()).toEqual(['at-limit', 'huge-type']);
    for (const letter of letters) {
      const original = originalOf(letter);
      const type = original['cloudEvents:type']!;
      expect(headerText(letter, 'tidings-dlq-reason')).toMatch(/^UnknownEventTypeError: unknown event type/);
      // Dead-lettered on the first delivery: no retry loop, no "delivered 3 times without being settled".
      expect(headerText(letter, 'tidings-dlq-attempts')).toBe('1');
      expect(headerText(letter, 'tidings-dlq-reduced')).toBe('headers');
      expect(JSON.parse(headerText(letter, 'tidings-dlq-cut-headers')!)).toContainEqual({
        name: 'cloudEvents:type',
        bytes: type.length,
        sha256: createHash('sha256').update(type).digest('hex'),
      });
      expect(letter.content.toString()).toBe('{"n":-1}');
      expect(headerText(letter, 'tidings-key')).toBe(original['tidings-key']);
    }

    // The bus says "dead-lettered" once per record, after the broker confirmed it, and nothing failed.
    await expect.poll(() => logs.matching(/^event dead-lettered/).length).toBe(2);
    expect(logs.matching(/could not be (stored|applied)/)).toEqual([]);
    expect(logs.text()).not.toMatch(/RangeError|delivered \d+ times without being settled/);
    await bus.stop();
    // Everything was acknowledged: nothing comes back to the queue once the consumer is gone.
    expect(await depth(workQueueName(exchange, group, topic))).toBe(0);
  });

  it('drops the body of a dead letter over maxMessageBytes, saying how large it was and its digest', async () => {
    const topic = 'dl.body';
    const adapter = await broker.adapter('body', { maxMessageBytes: 64 * 1024 });
    const observer = new ObserverLog();
    const main = new Collector();
    await adapter.subscribe(
      broker.spec('body', [topic], 2),
      main.handler(
        'main',
        (record): Settlement =>
          record.key === 'big'
            ? {
                type: 'deadLetter',
                topic: `${topic}.dlq`,
                reason: 'NonRetryableError: too big to handle',
                headers: { 'tidings-dlq-reason': 'NonRetryableError: too big to handle' },
              }
            : { type: 'ack' },
      ),
      observer,
    );
    // A foreign producer is not held to the adapter's limit.
    const big = Buffer.alloc(100 * 1024, 7);
    await publishRaw(topic, [{ headers: { 'tidings-key': 'big' }, body: big }]);
    await adapter.publish([{ topic, key: 'after', headers: {}, body: Buffer.from('after') }]);

    await observer.until((log) => log.landed.length === 1, 20_000);
    expect(observer.landed[0]!.landed).toEqual({
      topic: `${topic}.dlq`,
      reason: 'NonRetryableError: too big to handle',
      reduced: ['body'],
    });
    const [letter] = await take(workQueueName(exchange, 'body', `${topic}.dlq`), 1, 10_000);
    expect(letter!.content.byteLength).toBe(0);
    expect(headerText(letter!, 'tidings-dlq-original-body-bytes')).toBe(String(big.byteLength));
    expect(headerText(letter!, 'tidings-dlq-original-body-sha256')).toBe(
      createHash('sha256').update(big).digest('hex'),
    );
    await main.untilDistinct(2, 10_000);
    expect(observer.failed).toEqual([]);
  });

  it('lands the dead letter of a record with a thousand small headers, dropping the largest', async () => {
    const topic = 'dl.many';
    const adapter = await broker.adapter('many');
    const observer = new ObserverLog();
    const main = new Collector();
    const dead = new Collector();
    await adapter.subscribe(broker.spec('many-reader', [`${topic}.dlq`], 2), dead.handler('reader'));
    await adapter.subscribe(
      broker.spec('many', [topic], 2),
      main.handler('main', (record): Settlement => {
        if (record.key !== 'many') return { type: 'ack' };
        return {
          type: 'deadLetter',
          topic: `${topic}.dlq`,
          reason: 'NonRetryableError: poison',
          headers: {
            'tidings-dlq-reason': 'NonRetryableError: poison',
            'tidings-dlq-error-message': 'e'.repeat(999),
          },
        };
      }),
      observer,
    );
    // As many bytes of small headers as amqplib can publish, none of them long enough to be cut:
    // only dropping some makes room for the failure metadata.
    const headers: Record<string, string> = { 'tidings-key': 'many' };
    for (let i = 0; headerTableBytes(headers) < TABLE_LIMIT - 100; i++) headers[`h-${i}`] = 'v'.repeat(50);
    await publishRaw(topic, [{ headers, body: Buffer.from('many') }]);
    await adapter.publish(
      Array.from({ length: 5 }, (_, i) => ({
        topic,
        key: `after-${i}`,
        headers: {},
        body: Buffer.from(`after-${i}`),
      })),
    );
    await dead.untilDistinct(1, 20_000);
    await main.untilDistinct(6, 10_000);
    // The reader may see the dead letter before the publisher confirm reaches the adapter.
    await observer.until((log) => log.landed.length >= 1, 10_000);
    const letter = dead.deliveries[0]!.record;
    expect(letter.headers['tidings-dlq-reason']).toBe('NonRetryableError: poison');
    expect(Number(letter.headers['tidings-dlq-dropped-headers'])).toBeGreaterThan(0);
    expect(observer.landed.map((entry) => entry.landed.reduced)).toEqual([['headers']]);
    expect(main.ofBody('many').length).toBe(1);
  });

  it('keeps a record whose dead letter cannot be written at all, says so, tries again spaced out, and handles the records behind it', async () => {
    const topic = 'dl.unwritable';
    const adapter = await broker.adapter('unwritable');
    const observer = new ObserverLog();
    const main = new Collector();
    const settled: number[] = [];
    const subscription = await adapter.subscribe(
      broker.spec('unwritable', [topic], 2),
      main.handler('main', (record): Settlement => {
        if (record.key !== 'stuck') return { type: 'ack' };
        settled.push(performance.now());
        // A dead-letter topic the adapter's rule refuses: no copy of any size can be written.
        return {
          type: 'deadLetter',
          topic: `${topic}.dl*q`,
          reason: 'NonRetryableError: poison',
          headers: { 'tidings-dlq-reason': 'NonRetryableError: poison' },
        };
      }),
      observer,
    );
    await publishRaw(topic, [{ headers: { 'tidings-key': 'stuck' }, body: Buffer.from('stuck') }]);
    await adapter.publish(
      Array.from({ length: 5 }, (_, i) => ({
        topic,
        key: `after-${i}`,
        headers: {},
        body: Buffer.from(`after-${i}`),
      })),
    );
    await main.until(
      () => main.ofBody('stuck').length >= 2,
      20_000,
      () => `the unwritable record was delivered ${main.ofBody('stuck').length} times`,
    );
    // The records behind it were not held up.
    await main.untilDistinct(6, 10_000);
    expect(observer.landed).toEqual([]);
    expect(observer.failed.length).toBeGreaterThanOrEqual(1);
    expect(observer.failed[0]!.settlement.type).toBe('deadLetter');
    expect(subscription.lastError).toBeDefined();
    expect(subscription.state).toBe('running');
    // Held a while before it went back to its queue: not a loop.
    expect(settled[1]! - settled[0]!).toBeGreaterThanOrEqual(900);
    await subscription.close({ signal: AbortSignal.timeout(100) });
  });

  it('holds back, rather than loops on, a record whose retry copy cannot be written', async () => {
    const topic = 'dl.retry';
    const adapter = await broker.adapter('retry');
    const observer = new ObserverLog();
    const main = new Collector();
    const settled: number[] = [];
    const subscription = await adapter.subscribe(
      broker.spec('retry', [topic], 2),
      main.handler('main', (record): Settlement => {
        if (record.key !== 'full') return { type: 'ack' };
        settled.push(performance.now());
        return { type: 'retry', delayMs: 0, headers: { 'tidings-attempt': String(record.attempt + 1) } };
      }),
      observer,
    );
    // A header table at amqplib's limit: the copy, with the retry headers, is over it.
    const headers: Record<string, string> = { 'tidings-key': 'full' };
    headers['x-big'] = 'b'.repeat(TABLE_LIMIT - headerTableBytes({ ...headers, 'x-big': '' }));
    await publishRaw(topic, [{ headers, body: Buffer.from('full') }]);
    await adapter.publish([{ topic, key: 'after', headers: {}, body: Buffer.from('after') }]);

    await main.until(
      () => main.ofBody('full').length >= 2,
      20_000,
      () => `the record was delivered ${main.ofBody('full').length} times`,
    );
    await main.untilDistinct(2, 10_000);
    expect(observer.failed[0]).toMatchObject({
      settlement: { type: 'retry' },
      error: { code: 'MESSAGE_TOO_LARGE' },
    });
    expect(settled[1]! - settled[0]!).toBeGreaterThanOrEqual(900);
    await subscription.close({ signal: AbortSignal.timeout(100) });
  });
});
