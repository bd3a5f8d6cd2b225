import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IncomingRecord } from '../adapters/contract';
import { DecodeError } from '../errors';
import { type Codec, jsonCodec } from './codec';
import { encodeEnvelope } from './encode';
import {
  ATTRIBUTE_NAMES,
  decodeEnvelope,
  type Envelope,
  isEnvelopeHeader,
  readBinaryAttributes,
} from './envelope';

const codecs = new Map<string, Codec>([['application/json', jsonCodec]]);
const options = { prefix: 'ce_', codecs, defaultCodec: jsonCodec };

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    id: '0192f0c4-3b8e-7c1a-9d2e-4f6a8b0c1d2e',
    source: 'order-service',
    type: 'order.placed',
    specversion: '1.0',
    time: '2026-11-24T10:00:00.000Z',
    datacontenttype: 'application/json',
    subject: 'order-1',
    dataschema: undefined,
    eventversion: 2,
    partitionkey: 'order-1',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: undefined,
    correlationid: 'corr-1',
    causationid: undefined,
    extensions: {},
    data: { orderId: 'order-1', total: 42 },
    ...overrides,
  };
}

function incoming(record: {
  topic: string;
  key: string | undefined;
  headers: Record<string, string>;
  body: Uint8Array;
}): IncomingRecord {
  return { ...record, attempt: 1, position: 'test@0' };
}

describe('encodeEnvelope', () => {
  it('writes CloudEvents attributes as prefixed headers and data as the body', () => {
    const record = encodeEnvelope(envelope(), 'orders', { prefix: 'ce_', codec: jsonCodec });
    expect(record.topic).toBe('orders');
    expect(record.key).toBe('order-1');
    expect(record.headers).toMatchObject({
      ce_specversion: '1.0',
      ce_id: '0192f0c4-3b8e-7c1a-9d2e-4f6a8b0c1d2e',
      ce_source: 'order-service',
      ce_type: 'order.placed',
      ce_time: '2026-11-24T10:00:00.000Z',
      ce_subject: 'order-1',
      ce_eventversion: '2',
      ce_partitionkey: 'order-1',
      ce_correlationid: 'corr-1',
      'content-type': 'application/json',
    });
    expect(record.headers).not.toHaveProperty('ce_causationid');
    expect(JSON.parse(Buffer.from(record.body).toString('utf8'))).toEqual({ orderId: 'order-1', total: 42 });
  });

  it('uses the binding prefix it is given (AMQP style)', () => {
    const record = encodeEnvelope(envelope(), 'orders', { prefix: 'cloudEvents:', codec: jsonCodec });
    expect(record.headers['cloudEvents:type']).toBe('order.placed');
    const decoded = decodeEnvelope(incoming(record), { ...options, prefix: 'cloudEvents:' });
    expect(decoded.type).toBe('order.placed');
  });

  it('writes and reads datacontenttype under the header the binding names (NATS style)', () => {
    const record = encodeEnvelope(envelope(), 'orders', {
      prefix: 'ce-',
      codec: jsonCodec,
      contentTypeHeader: 'ce-datacontenttype',
    });
    expect(record.headers['ce-datacontenttype']).toBe('application/json');
    expect(record.headers).not.toHaveProperty('content-type');
    const decoded = decodeEnvelope(incoming(record), {
      ...options,
      prefix: 'ce-',
      contentTypeHeader: 'ce-datacontenttype',
    });
    expect(decoded.datacontenttype).toBe('application/json');
    expect(decoded.extensions).toEqual({});
  });

  it('keeps transport headers beside the attributes', () => {
    const record = encodeEnvelope(envelope(), 'orders', {
      prefix: 'ce_',
      codec: jsonCodec,
      headers: { 'x-tenant': 'acme' },
    });
    expect(record.headers['x-tenant']).toBe('acme');
    expect(isEnvelopeHeader('x-tenant', 'ce_')).toBe(false);
    expect(isEnvelopeHeader('ce_type', 'ce_')).toBe(true);
  });
});

describe('decodeEnvelope', () => {
  it('round-trips every attribute and extension', () => {
    const original = envelope({
      extensions: { tenant: 'acme', region: 'eu1' },
      causationid: 'cause-1',
      tracestate: 'k=v',
    });
    const decoded = decodeEnvelope(
      incoming(encodeEnvelope(original, 'orders', { prefix: 'ce_', codec: jsonCodec })),
      options,
    );
    expect(decoded).toEqual(original);
  });

  it.each([
    ['ce_id', 'missing ce_id header'],
    ['ce_source', 'missing ce_source header'],
    ['ce_type', 'missing ce_type header'],
    ['ce_specversion', 'missing ce_specversion header'],
  ])('names a missing required attribute (%s)', (header, message) => {
    const record = encodeEnvelope(envelope(), 'orders', { prefix: 'ce_', codec: jsonCodec });
    const headers = { ...record.headers };
    delete headers[header];
    expect(() => decodeEnvelope(incoming({ ...record, headers }), options)).toThrow(message);
  });

  it('rejects an unsupported specversion', () => {
    const record = encodeEnvelope(envelope(), 'orders', { prefix: 'ce_', codec: jsonCodec });
    const headers = { ...record.headers, ce_specversion: '0.3' };
    expect(() => decodeEnvelope(incoming({ ...record, headers }), options)).toThrow(
      /unsupported CloudEvents specversion "0.3"/,
    );
  });

  it('rejects a malformed eventversion', () => {
    const record = encodeEnvelope(envelope(), 'orders', { prefix: 'ce_', codec: jsonCodec });
    const headers = { ...record.headers, ce_eventversion: 'two' };
    expect(() => decodeEnvelope(incoming({ ...record, headers }), options)).toThrow(/malformed eventversion/);
  });

  it('turns malformed bytes into a DecodeError that names the event', () => {
    const record = encodeEnvelope(envelope(), 'orders', { prefix: 'ce_', codec: jsonCodec });
    const body = Buffer.from('{"orderId": "order-1", ');
    const error = (() => {
      try {
        decodeEnvelope(incoming({ ...record, body }), options);
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).message).toContain('order.placed');
    expect((error as DecodeError).retryable).toBe(false);
  });

  it('refuses a content type it has no codec for', () => {
    const record = encodeEnvelope(envelope({ datacontenttype: 'application/avro' }), 'orders', {
      prefix: 'ce_',
      codec: jsonCodec,
    });
    expect(() => decodeEnvelope(incoming(record), options)).toThrow(
      /no codec for content type "application\/avro"/,
    );
  });

  it('ignores content type parameters', () => {
    const record = encodeEnvelope(
      envelope({ datacontenttype: 'application/json; charset=utf-8' }),
      'orders',
      {
        prefix: 'ce_',
        codec: jsonCodec,
      },
    );
    expect(decodeEnvelope(incoming(record), options).data).toEqual({ orderId: 'order-1', total: 42 });
  });

  it('reads a structured-mode CloudEvent written by another tool', () => {
    const body = Buffer.from(
      JSON.stringify({
        specversion: '1.0',
        id: 'abc',
        source: 'https://example.com/orders',
        type: 'order.placed',
        datacontenttype: 'application/json',
        tenant: 'acme',
        data: { orderId: 'x' },
      }),
    );
    const decoded = decodeEnvelope(
      incoming({
        topic: 't',
        key: undefined,
        headers: { 'content-type': 'application/cloudevents+json' },
        body,
      }),
      options,
    );
    expect(decoded).toMatchObject({
      id: 'abc',
      type: 'order.placed',
      eventversion: 1,
      data: { orderId: 'x' },
    });
    expect(decoded.extensions).toEqual({ tenant: 'acme' });
  });

  it('rejects a structured-mode body that is not a JSON object', () => {
    const headers = { 'content-type': 'application/cloudevents+json' };
    expect(() =>
      decodeEnvelope(incoming({ topic: 't', key: undefined, headers, body: Buffer.from('[1]') }), options),
    ).toThrow(DecodeError);
  });

  it('reads attributes only, without touching the body', () => {
    const record = encodeEnvelope(envelope(), 'orders', { prefix: 'ce_', codec: jsonCodec });
    expect(readBinaryAttributes(record.headers, 'ce_').id).toBe('0192f0c4-3b8e-7c1a-9d2e-4f6a8b0c1d2e');
  });
});

describe('envelope round trip (property)', () => {
  const attribute = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });
  const extensionName = fc
    .stringMatching(/^[a-z0-9]{1,20}$/)
    .filter((name) => !(ATTRIBUTE_NAMES as readonly string[]).includes(name));
  const jsonData = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);

  it('survives encode and decode for arbitrary data, attributes, headers and unicode', () => {
    fc.assert(
      fc.property(
        attribute,
        attribute,
        attribute,
        fc.option(attribute, { nil: undefined }),
        fc.option(attribute, { nil: undefined }),
        fc.dictionary(extensionName, attribute, { maxKeys: 4 }),
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 20 }).map((k) => `x-${k}`),
          fc.string({ unit: 'grapheme' }),
          {
            maxKeys: 4,
          },
        ),
        jsonData,
        (id, source, type, subject, key, extensions, headers, data) => {
          const original = envelope({
            id,
            source,
            type,
            subject,
            partitionkey: key,
            extensions,
            data,
            traceparent: undefined,
            correlationid: undefined,
          });
          const record = encodeEnvelope(original, 'topic', { prefix: 'ce_', codec: jsonCodec, headers });
          // What a broker does: carry headers and bytes, nothing else.
          const wire = incoming({
            topic: record.topic,
            key: record.key,
            headers: JSON.parse(JSON.stringify(record.headers)) as Record<string, string>,
            body: new Uint8Array(record.body),
          });
          const decoded = decodeEnvelope(wire, options);
          expect(decoded).toEqual(original);
          for (const [name, value] of Object.entries(headers)) expect(wire.headers[name]).toBe(value);
          // And byte for byte: encoding the decoded envelope again gives the same record.
          const again = encodeEnvelope(decoded, 'topic', { prefix: 'ce_', codec: jsonCodec, headers });
          expect(Buffer.from(again.body).equals(Buffer.from(record.body))).toBe(true);
          expect(again.headers).toEqual(record.headers);
        },
      ),
      { numRuns: 300 },
    );
  });
});
