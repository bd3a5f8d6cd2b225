import type { Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { incomingRecordOf, isTransportHeader, messageIdOf, publicationOf } from './message';

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

describe('incomingRecordOf', () => {
  it('gives back the record as it was published', () => {
    const got = incomingRecordOf(
      delivered(publicationOf(record, target, 'm-1', true)),
      'tidings/g/order.placed',
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
    );
    expect(got.topic).toBe('order.placed');
    expect(got.key).toBeUndefined();
    expect(got.headers).toEqual({ a: '1' });
  });

  it('adds the broker delivery count to the attempt the copy was published as', () => {
    const publication = publicationOf(record, target, 'm-3', true);
    expect(incomingRecordOf(delivered(publication), 'q').attempt).toBe(3);
    expect(
      incomingRecordOf(delivered(publication, { headers: { 'x-delivery-count': 2 } }), 'q').attempt,
    ).toBe(5);
    // Classic queues only say "redelivered": at least one more.
    expect(incomingRecordOf(delivered(publication, { redelivered: true }), 'q').attempt).toBe(4);
    const original = publicationOf({ ...record, headers: {} }, target, 'm-4', true);
    expect(incomingRecordOf(delivered(original), 'q').attempt).toBe(1);
    expect(incomingRecordOf(delivered(original, { headers: { 'x-delivery-count': 1 } }), 'q').attempt).toBe(
      2,
    );
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
    const got = incomingRecordOf(foreign, 'q');
    expect(got.headers).toEqual({ number: '42', flag: 'true', bytes: 'abc', 'tidings-attempt': 'zero' });
    expect(got.attempt).toBe(1);
    expect(got.position).toBe('q#delivery-7');
  });

  it('tells transport headers from record headers', () => {
    for (const name of [
      'tidings-key',
      'tidings-topic',
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
