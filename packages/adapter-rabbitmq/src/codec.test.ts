import type { Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import {
  headerTableBytes,
  headerTableLimit,
  headerTableProblem,
  incomingRecordOf,
  isTransportHeader,
  messageIdOf,
  publicationOf,
} from './codec';

/** What a consumer would receive for a publication, as amqplib decodes it. */
function delivered(
  publication: ReturnType<typeof publicationOf>,
  overrides: { headers?: Record<string, unknown>; redelivered?: boolean; routingKey?: string } = {},
): Message {
  return {
    content: publication.content,
    fields: {
      deliveryTag: 7,
      redelivered: overrides.redelivered ?? false,
      exchange: publication.exchange,
      routingKey: overrides.routingKey ?? publication.routingKey,
    },
    properties: {
      contentType: publication.options.contentType,
      contentEncoding: undefined,
      headers: { ...publication.options.headers, ...overrides.headers },
      deliveryMode: 2,
      priority: undefined,
      correlationId: undefined,
      replyTo: undefined,
      expiration: undefined,
      messageId: publication.options.messageId,
      timestamp: undefined,
      type: undefined,
      userId: undefined,
      appId: undefined,
      clusterId: undefined,
    },
  };
}

const record = {
  topic: 'order.placed',
  key: 'order-42',
  headers: {
    'cloudEvents:id': '0190b5d2-7c1e-7000-8000-000000000001',
    'cloudEvents:type': 'order.placed',
    'content-type': 'application/json',
    'x-empty': '',
    'tidings-attempt': '3',
  },
  body: new TextEncoder().encode('{"orderId":"order-42"}'),
};
const target = { exchange: 'tidings', routingKey: 'order.placed', topic: 'order.placed' };

describe('publicationOf', () => {
  it('follows the AMQP binding: content type as a property, attributes as headers, persistent', () => {
    const publication = publicationOf(
      record,
      target,
      messageIdOf(record, () => 'unused'),
      true,
    );
    expect(publication.options).toMatchObject({
      persistent: true,
      mandatory: true,
      contentType: 'application/json',
      messageId: '0190b5d2-7c1e-7000-8000-000000000001',
    });
    expect(publication.options.headers).toEqual({
      'cloudEvents:id': '0190b5d2-7c1e-7000-8000-000000000001',
      'cloudEvents:type': 'order.placed',
      'x-empty': '',
      'tidings-attempt': '3',
      'tidings-key': 'order-42',
    });
    expect(Buffer.from(publication.content).toString()).toBe('{"orderId":"order-42"}');
  });

  it('uses a fresh message id for records without a CloudEvents id', () => {
    expect(messageIdOf({ key: undefined, headers: {}, body: new Uint8Array() }, () => 'p-1')).toBe('p-1');
  });

  it('keeps a content type too long for the property as a header', () => {
    const long = `application/json; profile=${'x'.repeat(300)}`;
    const publication = publicationOf(
      { key: undefined, headers: { 'content-type': long }, body: new Uint8Array() },
      target,
      'id',
      false,
    );
    expect(publication.options.contentType).toBeUndefined();
    expect(publication.options.headers?.['content-type']).toBe(long);
  });
});

describe('publicationOf, with what AMQP alone refuses', () => {
  it('refuses a header name longer than an AMQP field name', () => {
    const long = { ['x'.repeat(256)]: 'v' };
    expect(() =>
      publicationOf({ key: undefined, headers: long, body: new Uint8Array() }, target, 'id', true),
    ).toThrow(
      expect.objectContaining({
        name: 'PublishError',
        message: expect.stringMatching(/longer than 255 bytes/),
      }),
    );
  });

  it('carries headers named after Object.prototype members as headers', () => {
    const headers = JSON.parse('{"__proto__":"p","constructor":"c","toString":"t"}') as Record<
      string,
      string
    >;
    const publication = publicationOf(
      { key: undefined, headers, body: new Uint8Array() },
      target,
      'id',
      true,
    );
    expect(Object.keys(publication.options.headers).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(Object.getPrototypeOf(publication.options.headers)).toBeNull();
    expect(Object.getOwnPropertyDescriptor(publication.options.headers, '__proto__')?.value).toBe('p');
  });
});

describe('header tables', () => {
  it('measures a table as amqplib encodes it: length prefix, then name, tag and length per header', () => {
    expect(headerTableBytes({})).toBe(4);
    expect(headerTableBytes({ big: 'h'.repeat(65_520) })).toBe(65_533);
    expect(headerTableBytes({ é: 'ü' })).toBe(4 + 6 + 2 + 2);
  });

  it('limits a table to amqplib’s 64 KiB buffer, and to the frame when frame_max is smaller', () => {
    expect(headerTableLimit(131_072)).toBe(65_536);
    expect(headerTableLimit(0xffffffff)).toBe(65_536);
    expect(headerTableLimit(16_384)).toBeLessThan(16_384);
  });

  it('finds a table over the limit, at the limit it fits', () => {
    // 4 (prefix) + 6 + 3 ('big') + value: 65,523 bytes of value fill 65,536.
    const at = publicationOf(
      { key: undefined, headers: { big: 'h'.repeat(65_523) }, body: new Uint8Array() },
      target,
      'id',
      true,
    );
    expect(headerTableProblem(at, 65_536)).toBeUndefined();
    const over = publicationOf(
      { key: undefined, headers: { big: 'h'.repeat(65_524) }, body: new Uint8Array() },
      target,
      'id',
      true,
    );
    expect(headerTableProblem(over, 65_536)).toMatchObject({
      name: 'MessageTooLargeError',
      code: 'MESSAGE_TOO_LARGE',
      size: 65_537,
      limit: 65_536,
    });
    // Multi-byte characters are measured in bytes.
    const wide = publicationOf(
      { key: undefined, headers: { w: '€'.repeat(22_000) }, body: new Uint8Array() },
      target,
      'id',
      true,
    );
    expect(headerTableProblem(wide, 65_536)).toMatchObject({ size: 4 + 6 + 1 + 66_000 });
  });
});

describe('incomingRecordOf', () => {
  it('gives back the record as it was published', () => {
    const got = incomingRecordOf(
      delivered(publicationOf(record, target, 'm-1', true)),
      'tidings/g/order.placed',
      'quorum',
    );
    expect(got.topic).toBe('order.placed');
    expect(got.key).toBe('order-42');
    expect(got.headers).toEqual(record.headers);
    expect(Buffer.from(got.body).equals(Buffer.from(record.body))).toBe(true);
    expect(got.position).toBe('tidings/g/order.placed#m-1');
  });

  it('reads the topic of a retried copy from its header, and drops the transport headers', () => {
    const copy = publicationOf(
      { key: undefined, headers: { a: '1' }, body: new Uint8Array() },
      { exchange: 'tidings.delay.100ms', routingKey: 'tidings/g/order.placed', topic: 'order.placed' },
      'm-2',
      true,
      { 'tidings-topic': 'order.placed', 'tidings-delay-0': '1' },
    );
    const got = incomingRecordOf(
      delivered(copy, {
        headers: {
          'x-death': [{ count: 1, reason: 'expired', queue: 'tidings.delay.100ms' }],
          'x-first-death-queue': 'tidings.delay.100ms',
          'x-last-death-reason': 'expired',
        },
      }),
      'tidings/g/order.placed',
      'quorum',
    );
    expect(got.topic).toBe('order.placed');
    expect(got.key).toBeUndefined();
    expect(got.headers).toEqual({ a: '1' });
  });

  it('counts attempts by the kit’s rule: the attempt the copy was published as, plus its deliveries beyond the first', () => {
    const attempt = (message: Message, queueType: 'quorum' | 'classic') =>
      incomingRecordOf(message, 'q', queueType).attempt;
    const publication = publicationOf(record, target, 'm-3', true);
    // Quorum queues count the earlier deliveries of a copy (none on the first).
    expect(attempt(delivered(publication), 'quorum')).toBe(3);
    expect(attempt(delivered(publication, { headers: { 'x-delivery-count': 2 } }), 'quorum')).toBe(5);
    expect(
      attempt(delivered(publication, { headers: { 'x-delivery-count': 2 }, redelivered: true }), 'quorum'),
    ).toBe(5);
    // Classic queues only say "redelivered": at least one more.
    expect(attempt(delivered(publication), 'classic')).toBe(3);
    expect(attempt(delivered(publication, { redelivered: true }), 'classic')).toBe(4);
    // There the broker writes no delivery count: one in the headers is a producer's.
    expect(attempt(delivered(publication, { headers: { 'x-delivery-count': 40 } }), 'classic')).toBe(3);
    const original = publicationOf({ ...record, headers: {} }, target, 'm-4', true);
    expect(attempt(delivered(original), 'quorum')).toBe(1);
    expect(attempt(delivered(original, { headers: { 'x-delivery-count': 1 } }), 'quorum')).toBe(2);
    expect(attempt(delivered(original, { redelivered: true }), 'classic')).toBe(2);
  });

  it('copes with foreign messages: odd header values, a bad attempt, no message id', () => {
    const foreign = delivered(
      publicationOf({ key: undefined, headers: {}, body: new Uint8Array() }, target, 'x', false),
      {
        headers: {
          number: 42,
          flag: true,
          bytes: Buffer.from('abc'),
          table: { nested: 1 },
          list: [1, 2],
          nothing: null,
          'tidings-attempt': 'zero',
        },
      },
    );
    foreign.properties.messageId = undefined;
    const got = incomingRecordOf(foreign, 'q', 'quorum');
    expect(got.headers).toEqual({ number: '42', flag: 'true', bytes: 'abc', 'tidings-attempt': 'zero' });
    expect(got.attempt).toBe(1);
    expect(got.position).toBe('q#delivery-7');
  });

  it('reads only the own headers of a table whose `__proto__` header made amqplib set its prototype', () => {
    const message = delivered(
      publicationOf({ key: undefined, headers: {}, body: new Uint8Array() }, target, 'x', false),
    );
    // What amqplib's decoder makes of a table with a `__proto__` table in it: `fields[key] = value`.
    const raw: Record<string, unknown> = { constructor: 'c', toString: 't', 'cloudEvents:id': 'e-1' };
    Object.setPrototypeOf(raw, {
      'cloudEvents:type': 'forged',
      'tidings-attempt': '99',
      'tidings-key': 'forged-key',
      'tidings-topic': 'forged.topic',
      'x-delivery-count': 40,
    });
    message.properties.headers = raw;
    const got = incomingRecordOf(message, 'q', 'quorum');
    expect(Object.getPrototypeOf(got.headers)).toBeNull();
    expect({ ...got.headers }).toEqual({ constructor: 'c', toString: 't', 'cloudEvents:id': 'e-1' });
    expect(got.headers['cloudEvents:type']).toBeUndefined();
    expect(got.attempt).toBe(1);
    expect(got.key).toBeUndefined();
    expect(got.topic).toBe('order.placed');
  });

  it('tells transport headers from record headers', () => {
    for (const name of [
      'tidings-key',
      'tidings-topic',
      'tidings-letter-id',
      'tidings-delay-3',
      'x-death',
      'x-delivery-count',
      'x-first-death-exchange',
    ]) {
      expect(isTransportHeader(name), name).toBe(true);
    }
    for (const name of ['tidings-attempt', 'cloudEvents:id', 'x-seq', 'content-type']) {
      expect(isTransportHeader(name), name).toBe(false);
    }
  });
});
