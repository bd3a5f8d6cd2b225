import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OrderPlaced, order } from '../../test/support/contracts';
import type { PublishOptions } from '../context/publish';
import { defineEvent } from '../contracts/define-event';
import { EncodeError, TidingsError, ValidationError } from '../errors';
import { createTestBus } from '../testing/harness';

const Anything = defineEvent({ type: 'anything', schema: z.any() });

async function refusal(publish: (bus: ReturnType<typeof createTestBus>) => Promise<unknown>) {
  const bus = createTestBus();
  let delivered = 0;
  bus.subscribe([OrderPlaced], { group: 'g' }, () => {
    delivered++;
  });
  bus.subscribe([Anything], { group: 'g' }, () => {
    delivered++;
  });
  await bus.start();
  const error = await publish(bus).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  // Nothing reached the broker: the check comes before the send.
  await bus.publish(OrderPlaced, order('after'));
  await bus.waitFor({ outcome: 'handled' });
  expect(bus.deliveries.length).toBe(1);
  expect(delivered).toBe(1);
  await bus.stop();
  return error;
}

describe('publish refuses what it cannot send faithfully, with a typed error and nothing sent', () => {
  it.each([
    [
      'circular data',
      (() => {
        const data: Record<string, unknown> = { name: 'loop' };
        data.self = data;
        return data;
      })(),
      /circular/i,
    ],
    ['a BigInt', { amount: 10n }, /BigInt/],
  ])('%s is an EncodeError', async (_label, data, message) => {
    const error = await refusal((bus) => bus.publish(Anything, data));
    expect(error).toBeInstanceOf(EncodeError);
    expect(error).toBeInstanceOf(TidingsError);
    expect((error as EncodeError).code).toBe('ENCODE');
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/nothing was published/);
  });

  it('refuses the same in publishBatch, and sends none of the batch', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const error = await refusal((bus) =>
      bus.publishBatch([
        { contract: Anything, data: { fine: true } },
        { contract: Anything, data: circular },
      ]),
    );
    expect(error).toBeInstanceOf(EncodeError);
  });

  const cases: [string, PublishOptions, string, RegExp][] = [
    ['an extension named id', { extensions: { id: 'forged' } }, 'extensions.id', /CloudEvents attribute/],
    ['an extension named type', { extensions: { type: 'x' } }, 'extensions.type', /CloudEvents attribute/],
    [
      'an extension named specversion',
      { extensions: { specversion: '0.3' } },
      'extensions.specversion',
      /attribute/,
    ],
    ['an extension with capitals', { extensions: { 'Bad-Name': 'x' } }, 'extensions.Bad-Name', /lower-case/],
    [
      'an extension name over 20 characters',
      { extensions: { abcdefghijklmnopqrstu: 'x' } },
      'extensions.abcdefghijklmnopqrstu',
      /1 to 20/,
    ],
    [
      'an extension value that is a number',
      { extensions: { region: 7 as unknown as string } },
      'extensions.region',
      /string/,
    ],
    ['an empty id', { id: '' }, 'id', /empty/],
    ['an id with CR/LF', { id: 'a\r\nb' }, 'id', /control/],
    ['an id that is a number', { id: 42 as unknown as string }, 'id', /string/],
    ['a time that is no date', { time: 'not-a-date' }, 'time', /RFC 3339/],
    ['an invalid Date', { time: new Date(Number.NaN) }, 'time', /invalid Date/],
    [
      'a header value that is a number',
      { headers: { 'x-n': 5 as unknown as string } },
      'headers.x-n',
      /string/,
    ],
    ['a header value with a line break', { headers: { 'x-a': 'a\nb' } }, 'headers.x-a', /CR, LF/],
    [
      'a header named like a CloudEvents attribute',
      { headers: { ce_type: 'x' } },
      'headers.ce_type',
      /envelope/,
    ],
    [
      'a header of the core retry state',
      { headers: { 'tidings-attempt': '99' } },
      'headers.tidings-attempt',
      /envelope/,
    ],
    [
      'a content-type header',
      { headers: { 'Content-Type': 'text/plain' } },
      'headers.Content-Type',
      /envelope/,
    ],
    ['a header name with a colon', { headers: { 'a:b': 'x' } }, 'headers.a:b', /visible ASCII/],
    ['a key with a line break', { key: 'k\n' }, 'key', /CR, LF/],
    [
      'a correlation id that is a number',
      { correlationId: 1 as unknown as string },
      'correlationId',
      /string/,
    ],
    ['a malformed traceparent', { traceparent: 'nope' }, 'traceparent', /W3C/],
    ['an empty topic', { topic: '' }, 'topic', /empty/],
  ];

  it.each(cases)('%s is a ValidationError naming the field', async (_label, options, field, message) => {
    const error = await refusal((bus) => bus.publish(OrderPlaced, order('o'), options));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses a key function that returns something other than a string', async () => {
    const NumberKey = defineEvent({
      type: 'anything',
      schema: z.object({ n: z.number() }),
      key: (data) => data.n as unknown as string,
    });
    const error = await refusal((bus) => bus.publish(NumberKey, { n: 1 }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('key');
  });

  it('accepts what is well-formed, and the consumer sees it as sent', async () => {
    const bus = createTestBus();
    const seen: unknown[] = [];
    bus.subscribe(OrderPlaced, { group: 'g' }, (event, ctx) => {
      const proto = Object.getOwnPropertyDescriptor(ctx.record.headers, '__proto__')?.value;
      seen.push({ id: event.id, time: event.time, extensions: event.extensions, proto });
    });
    await bus.start();
    const published = await bus.publish(OrderPlaced, order('o'), {
      id: 'order-o-placed',
      time: '2026-12-01T10:00:00.123+01:00',
      extensions: { region: 'eu', tenant42: 'acme' },
      // An own property named __proto__, as JSON.parse makes it: a header like any other.
      headers: JSON.parse('{"x-tenant":"acme","__proto__":"kept"}') as Record<string, string>,
    });
    expect(published.id).toBe('order-o-placed');
    await bus.waitFor({ outcome: 'handled' });
    expect(seen).toEqual([
      {
        id: 'order-o-placed',
        time: '2026-12-01T10:00:00.123+01:00',
        extensions: { region: 'eu', tenant42: 'acme' },
        proto: 'kept',
      },
    ]);
    await bus.stop();
  });
});
