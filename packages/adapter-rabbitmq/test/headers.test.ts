import { Collector } from '@tidings/conformance';
import type { OutgoingRecord } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { RABBITMQ_URL } from './support/broker';
import { useBroker } from './support/fixture';

const broker = useBroker('headers');
const { exchange } = broker;

/** Resolves with what a promise rejected with, or undefined when it resolved. */
function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('headers RabbitMQ cannot carry, on adapter.publish', () => {
  it('refuses a header table over what amqplib and the broker take, before sending any record of the call', async () => {
    const adapter = await broker.adapter('big');
    const collector = new Collector();
    await adapter.subscribe(broker.spec('big', ['headers.big'], 4), collector.handler('only'));
    const batch: OutgoingRecord[] = [
      { topic: 'headers.big', key: undefined, headers: {}, body: Buffer.from('first') },
      // 65,537 bytes of header table: one more than amqplib's encoding buffer.
      {
        topic: 'headers.big',
        key: undefined,
        headers: { big: 'h'.repeat(65_524) },
        body: Buffer.from('big'),
      },
    ];
    const error = await failure(adapter.publish(batch));
    expect(error).toMatchObject({
      name: 'MessageTooLargeError',
      code: 'MESSAGE_TOO_LARGE',
      size: 65_537,
      limit: 65_536,
    });
    expect((error as Error).message).toMatch(/headers of a record for "headers\.big" take 65537 bytes/);
    expect(error).not.toBeInstanceOf(RangeError);
    // Nothing of the call went out: a record published after it is the first to arrive.
    await adapter.publish([{ topic: 'headers.big', key: undefined, headers: {}, body: Buffer.from('next') }]);
    await collector.untilDistinct(1, 10_000);
    expect([...collector.distinctBodies()]).toEqual(['next']);
    // At the limit exactly, it goes.
    await adapter.publish([
      { topic: 'headers.big', key: undefined, headers: { big: 'h'.repeat(65_523) }, body: Buffer.from('at') },
    ]);
    await collector.untilDistinct(2, 10_000);
  });

  it('measures the headers against the frame_max negotiated with the broker', async () => {
    // A client may ask for smaller frames; a header frame over it would make RabbitMQ close the connection.
    const adapter = await broker.adapter('frame', { url: `${RABBITMQ_URL}?frameMax=8192` });
    const collector = new Collector();
    await adapter.subscribe(broker.spec('frame', ['headers.frame'], 4), collector.handler('only'));
    const error = await failure(
      adapter.publish([
        {
          topic: 'headers.frame',
          key: undefined,
          headers: { big: 'h'.repeat(10_000) },
          body: Buffer.from('x'),
        },
      ]),
    );
    expect(error).toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expect((error as { limit: number }).limit).toBeLessThan(8192);
    await adapter.publish([
      { topic: 'headers.frame', key: undefined, headers: {}, body: Buffer.from('fine') },
    ]);
    await collector.untilDistinct(1, 10_000);
    expect(adapter.state).toBe('connected');
  });

  it('refuses a header value that is not a string with a PublishError, as the other adapters do', async () => {
    const adapter = await broker.adapter('typed');
    for (const value of [42, true, { nested: 'x' }]) {
      const record = {
        topic: 'headers.typed',
        key: undefined,
        headers: { 'x-count': value },
        body: Buffer.from('x'),
      } as unknown as OutgoingRecord;
      const error = await failure(adapter.publish([record]));
      expect(error, `header value ${JSON.stringify(value)}`).toMatchObject({
        name: 'PublishError',
        code: 'PUBLISH',
      });
      // The kit's wording, the same on every adapter.
      expect((error as Error).message).toMatch(/header "x-count" must be a string/);
      expect(error).toMatchObject({ topic: 'headers.typed' });
    }
  });
});

describe('headers as amqplib hands them over', () => {
  it('takes only the own headers of a message whose `__proto__` header is a table', async () => {
    const adapter = await broker.adapter('proto');
    const collector = new Collector();
    await adapter.subscribe(broker.spec('proto', ['headers.proto'], 4), collector.handler('only'));
    // A foreign producer's table named `__proto__`: amqplib's decoder makes it the prototype of
    // the headers object it hands over, so that its keys look like headers to `for…in`.
    // Defined, not assigned: on a prototype-free object both make an own property, but biome and
    // readers take `headers.__proto__ = ...` for the accessor.
    const headers: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    const forged = {
      'tidings-attempt': '99',
      'tidings-key': 'forged-key',
      'tidings-topic': 'forged.topic',
      'cloudEvents:type': 'forged.type',
    };
    Object.defineProperty(headers, '__proto__', { value: forged, enumerable: true });
    Object.assign(headers, { constructor: 'c', toString: 't', valueOf: 'v', 'x-real': 'yes' });
    const channel = await broker.raw().createConfirmChannel();
    channel.publish(exchange, 'headers.proto', Buffer.from('proto'), { headers });
    await channel.waitForConfirms();
    await channel.close();

    await collector.untilDistinct(1, 10_000);
    const record = collector.deliveries[0]!.record;
    expect(Object.getPrototypeOf(record.headers)).toBeNull();
    expect({ ...record.headers }).toEqual({ constructor: 'c', toString: 't', valueOf: 'v', 'x-real': 'yes' });
    expect(record.attempt).toBe(1);
    expect(record.key).toBeUndefined();
    expect(record.topic).toBe('headers.proto');
    expect(({} as Record<string, unknown>)['tidings-attempt']).toBeUndefined();
  });

  it('carries headers named after Object.prototype members, both ways', async () => {
    const adapter = await broker.adapter('members');
    const collector = new Collector();
    await adapter.subscribe(broker.spec('members', ['headers.members'], 4), collector.handler('only'));
    const headers = JSON.parse('{"constructor":"c","toString":"t","hasOwnProperty":"h"}') as Record<
      string,
      string
    >;
    await adapter.publish([{ topic: 'headers.members', key: 'k', headers, body: Buffer.from('m') }]);
    await collector.untilDistinct(1, 10_000);
    expect({ ...collector.deliveries[0]!.record.headers }).toEqual(headers);
  });
});
