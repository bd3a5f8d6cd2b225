import { Collector } from '@tidings/conformance';
import { createBus, defineEvent } from '@tidings/core';
import type { OutgoingRecord } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { rawProduce, subscribeSpec, testAdmin, useKafka } from './helpers';

const kafka = useKafka('h');

describe('kafka hostile input', () => {
  it('keeps headers named after prototype members as headers, and a header without a value', async () => {
    const { topic, group } = kafka.names('proto');
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const adapter = await kafka.adapter();
    const collector = new Collector();
    await adapter.subscribe(subscribeSpec(group, topic), collector.handler('only'));
    const headers = Object.assign(Object.create(null) as Record<string, string>, {
      ['__proto__']: 'p',
      constructor: 'c',
      toString: 't',
      hasOwnProperty: 'h',
      valueOf: 'v',
    });
    await rawProduce(topic, [{ key: 'k', headers, body: Buffer.from('hostile') }]);
    // A header with a null value, which the Java client writes and kafkajs reads as null.
    await withNullHeaderValues(() =>
      rawProduce(topic, [
        {
          key: 'k',
          headers: { 'x-null': null as unknown as string, after: 'yes' },
          body: Buffer.from('null'),
        },
      ]),
    );
    await collector.untilDistinct(2, 20_000);
    const hostile = collector.ofBody('hostile')[0]!.record.headers;
    expect(Object.getPrototypeOf(hostile)).toBeNull();
    expect(Object.keys(hostile).sort()).toEqual([
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'toString',
      'valueOf',
    ]);
    expect(Object.getOwnPropertyDescriptor(hostile, '__proto__')?.value).toBe('p');
    expect({ ...hostile }).toMatchObject({
      constructor: 'c',
      toString: 't',
      hasOwnProperty: 'h',
      valueOf: 'v',
    });
    expect(collector.ofBody('null')[0]!.record.headers).toEqual(
      Object.assign(Object.create(null), { 'x-null': '', after: 'yes' }),
    );
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
  });

  it('dead-letters such a record with those headers intact', async () => {
    const { topic, group } = kafka.names('proto-dlq');
    const Ping = defineEvent({ type: 'test.ping', topic, schema: z.object({ n: z.number() }) });
    const bus = createBus({ source: 'hostile-test', adapter: await kafka.adapter() });
    bus.subscribe(Ping, { group, startFrom: 'earliest' }, () => undefined);
    await bus.start();
    const reader = await kafka.adapter();
    const dead = new Collector();
    await reader.subscribe(subscribeSpec(`${group}-reader`, `${topic}.${group}.dlq`), dead.handler('reader'));
    const headers = Object.assign(Object.create(null) as Record<string, string>, {
      ['__proto__']: 'p',
      constructor: 'c',
    });
    await rawProduce(topic, [{ key: 'k', headers, body: Buffer.from('not an event') }]);
    await dead.untilDistinct(1, 20_000);
    const letter = dead.deliveries[0]!.record.headers;
    expect(letter['tidings-dlq-reason']).toMatch(/^DecodeError: /);
    expect(Object.getOwnPropertyDescriptor(letter, '__proto__')?.value).toBe('p');
    expect(Object.getOwnPropertyDescriptor(letter, 'constructor')?.value).toBe('c');
    await bus.stop();
  });

  it('dead-letters a record with a 65 KB type header whole: Kafka has no header limit below the record', async () => {
    const { topic, group } = kafka.names('long-type');
    const Ping = defineEvent({ type: 'test.ping', topic, schema: z.object({ n: z.number() }) });
    const bus = createBus({ source: 'hostile-test', adapter: await kafka.adapter() });
    bus.subscribe(Ping, { group, startFrom: 'earliest' }, () => undefined);
    await bus.start();
    const reader = await kafka.adapter();
    const dead = new Collector();
    await reader.subscribe(subscribeSpec(`${group}-reader`, `${topic}.${group}.dlq`), dead.handler('reader'));
    const type = `t${'y'.repeat(65 * 1024)}`;
    await rawProduce(topic, [
      {
        key: 'k',
        headers: { ce_specversion: '1.0', ce_id: 'long-type', ce_source: 'raw', ce_type: type },
        body: Buffer.from('{"n":1}'),
      },
    ]);
    await dead.untilDistinct(1, 20_000);
    const letter = dead.deliveries[0]!.record;
    expect(letter.headers['tidings-dlq-reason']).toMatch(/^UnknownEventTypeError: /);
    expect(letter.headers.ce_type).toBe(type);
    expect(letter.headers['tidings-dlq-reduced']).toBeUndefined();
    await bus.stop();
  });

  it('refuses a header value that is not a string with a PublishError, before sending anything', async () => {
    const { topic } = kafka.names('numeric');
    const adapter = await kafka.adapter();
    const good: OutgoingRecord = { topic, key: 'k', headers: { a: 'b' }, body: Buffer.from('fine') };
    const bad = { ...good, headers: { 'x-count': 42 } } as unknown as OutgoingRecord;
    const error = await adapter.publish([good, bad]).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({
      name: 'PublishError',
      code: 'PUBLISH',
      topic,
      message: 'header "x-count" must be a string, got number',
    });
    for (const odd of [{ ...good, key: 5 }, { ...good, body: 'text' }, { ...good, headers: null }, null]) {
      await expect(adapter.publish([odd as unknown as OutgoingRecord])).rejects.toMatchObject({
        code: 'PUBLISH',
      });
    }
    await expect(adapter.publish('nope' as unknown as OutgoingRecord[])).rejects.toMatchObject({
      code: 'PUBLISH',
    });
    // Not even the good record ahead of it went out: the topic was never made.
    const admin = await testAdmin();
    expect(await admin.listTopics()).not.toContain(topic);
  });
});

/**
 * Runs `send` with kafkajs able to write a null header value. kafkajs 2.2.4 means to (its record
 * encoder sizes a null value as the -1 length it writes), but measures the value with
 * `Buffer.byteLength` first, which throws on null; the Java client writes them without fuss.
 */
async function withNullHeaderValues(send: () => Promise<void>): Promise<void> {
  const byteLength = Buffer.byteLength;
  Buffer.byteLength = ((value: Parameters<typeof byteLength>[0], encoding?: BufferEncoding) =>
    value === null ? 0 : byteLength(value, encoding)) as typeof Buffer.byteLength;
  try {
    await send();
  } finally {
    Buffer.byteLength = byteLength;
  }
}
