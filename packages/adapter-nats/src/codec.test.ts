import { headers as natsHeaders } from 'nats';
import { describe, expect, it } from 'vitest';
import {
  decodeHeaderValue,
  encodeHeaderName,
  encodeHeaderValue,
  fromNatsHeaders,
  KEY_HEADER,
  toIncoming,
  toNatsHeaders,
} from './codec';

describe('header values', () => {
  it('percent-encodes as the CloudEvents NATS binding says, with upper-case hex', () => {
    expect(encodeHeaderValue('Euro € 😀')).toBe('Euro%20%E2%82%AC%20%F0%9F%98%80');
    expect(encodeHeaderValue('say "hi" 100%')).toBe('say%20%22hi%22%20100%25');
    expect(encodeHeaderValue('order.placed/v1:2')).toBe('order.placed/v1:2');
    expect(encodeHeaderValue('')).toBe('');
  });

  it('round-trips any string, line breaks and edge spaces included', () => {
    for (const value of [
      '',
      ' lead',
      'trail ',
      'a\r\nb',
      'zażółć gęślą jaźń · Ωμέγα · 日本語 · 🚀',
      '%41',
      '\u0000x',
    ]) {
      expect(decodeHeaderValue(encodeHeaderValue(value))).toBe(value);
    }
  });

  it('accepts lower-case escapes, quoted values of older producers and raw UTF-8', () => {
    expect(decodeHeaderValue('caf%c3%a9')).toBe('café');
    expect(decodeHeaderValue('"a \\"b\\""')).toBe('a "b"');
    expect(decodeHeaderValue('ż%20ź')).toBe('ż ź');
  });

  it('keeps values that are not valid percent-encoded UTF-8 as they came', () => {
    expect(decodeHeaderValue('100%')).toBe('100%');
    expect(decodeHeaderValue('%zz')).toBe('%zz');
    // An overlong encoding of a space must be refused, not decoded.
    expect(decodeHeaderValue('%C0%A0')).toBe('%C0%A0');
  });
});

describe('header names', () => {
  it('leaves ordinary names alone and encodes what NATS refuses in a name', () => {
    expect(encodeHeaderName('ce-traceparent')).toBe('ce-traceparent');
    expect(encodeHeaderName('X-Mixed-Case')).toBe('X-Mixed-Case');
    expect(encodeHeaderName('a:b ż')).toBe('a%3Ab%20%C5%BC');
  });
});

describe('records to NATS headers and back', () => {
  it('carries headers, the key and the message id, and reads them back without NATS headers', () => {
    const encoded = toNatsHeaders(
      { 'ce-id': 'e1', 'x-text': 'ż ź', 'a:b': 'c', 'x-empty': '' },
      'klucz 🔑',
      'topic e1',
    );
    expect(encoded.headers.get('Nats-Msg-Id')).toBe('topic e1');
    expect(encoded.headers.get(KEY_HEADER)).toBe('klucz%20%F0%9F%94%91');
    const wire = natsHeaders();
    for (const [name, values] of encoded.headers) wire.set(name, values[0]!);
    const decoded = fromNatsHeaders({ headers: wire });
    expect(decoded.key).toBe('klucz 🔑');
    expect(decoded.headers).toEqual({ 'ce-id': 'e1', 'x-text': 'ż ź', 'a:b': 'c', 'x-empty': '' });
  });

  it('reads a raw header block as nats.js reads it, for every block nats.js writes', () => {
    const own: Record<string, string> = Object.create(null) as Record<string, string>;
    Object.assign(own, { 'ce-id': 'e1', 'x-text': 'ż ź', 'a:b': 'c', 'x-empty': '', 'x-q': '"quoted"' });
    Object.defineProperty(own, '__proto__', { value: 'p', enumerable: true, writable: true });
    const wire = toNatsHeaders(own, 'klucz 🔑', 'topic e1').headers;
    wire.append('x-twice', 'first');
    wire.append('x-twice', 'second');
    const block = new TextEncoder().encode(wire.toString());
    const parsedByNats = fromNatsHeaders({ headers: wire }, () => undefined);
    // A message as nats.js delivers it: the raw block where rawHeaderBlock looks for it.
    const delivered = fromNatsHeaders({
      _rdata: block,
      _msg: { hdr: block.byteLength },
      get headers(): never {
        throw new Error('the raw block is read, not the parsed headers');
      },
    } as never);
    expect(delivered.key).toBe('klucz 🔑');
    expect(delivered.key).toBe(parsedByNats.key);
    expect({ ...delivered.headers }).toEqual({ ...parsedByNats.headers });
    expect(delivered.headers['x-twice']).toBe('first');
    expect(Object.getOwnPropertyDescriptor(delivered.headers, '__proto__')?.value).toBe('p');
    expect(Object.getPrototypeOf(delivered.headers)).toBeNull();
  });

  it("keeps the record's own Nats-Msg-Id and counts the header bytes", () => {
    const encoded = toNatsHeaders({ 'Nats-Msg-Id': 'mine' }, undefined, 'derived');
    expect(encoded.headers.values('Nats-Msg-Id')).toEqual(['mine']);
    const wireBytes = new TextEncoder().encode(encoded.headers.toString()).byteLength;
    expect(encoded.byteLength).toBe(wireBytes);
  });

  it('tells an absent key from an empty one', () => {
    const none = toNatsHeaders({}, undefined);
    const empty = toNatsHeaders({}, '');
    expect(fromNatsHeaders({ headers: none.headers }).key).toBeUndefined();
    expect(fromNatsHeaders({ headers: empty.headers }).key).toBe('');
    expect(fromNatsHeaders({ headers: undefined })).toEqual({ headers: {}, key: undefined });
  });

  it('carries headers named like members of Object.prototype, and pollutes nothing', () => {
    const own: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      own[name] = `v-${name}`;
    }
    const decoded = fromNatsHeaders({ headers: toNatsHeaders(own, undefined).headers });
    expect(Object.keys(decoded.headers).sort()).toEqual(Object.keys(own).sort());
    for (const name of Object.keys(own)) expect(decoded.headers[name]).toBe(`v-${name}`);
    expect(Object.getPrototypeOf(decoded.headers)).toBeNull();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads a header block nats.js refuses (names other clients may write) with its tolerant parser', () => {
    const block = new TextEncoder().encode(
      'NATS/1.0\r\nce-id: e1\r\nbad name: x\r\nż: %C5%BC\r\ntidings-key: k%201\r\nce-id: again\r\nno colon\r\n\r\n',
    );
    // nats.js keeps the raw block in these fields of its message class.
    const msg = {
      _rdata: block,
      _msg: { hdr: block.byteLength },
      get headers(): never {
        throw new Error("' ' is not a valid character for a header key");
      },
    };
    const decoded = fromNatsHeaders(msg);
    expect(decoded.key).toBe('k 1');
    expect({ ...decoded.headers }).toEqual({ 'ce-id': 'e1', 'bad name': 'x', ż: 'ż' });
    // Without those fields, the record is read without headers rather than lost.
    expect(
      fromNatsHeaders({
        get headers(): never {
          throw new Error('bad');
        },
      }),
    ).toEqual({ headers: {}, key: undefined });
  });
});

describe('incoming records', () => {
  const where = { topic: 'order.placed', position: 'order.placed/3@17' };
  const wire = (headers: Record<string, string>) => ({ headers: toNatsHeaders(headers, 'k').headers });

  it('count the attempt by the kit rule: the header (or 1), plus the deliveries of this copy beyond one', () => {
    const body = Buffer.from('x');
    expect(toIncoming(wire({}), body, { ...where, deliveries: 1 }).attempt).toBe(1);
    // A nak'd copy comes back with the server's count; no header is involved.
    expect(toIncoming(wire({}), body, { ...where, deliveries: 3 }).attempt).toBe(3);
    // A record something re-published for its 4th attempt, then redelivered once.
    expect(toIncoming(wire({ 'tidings-attempt': '4' }), body, { ...where, deliveries: 2 }).attempt).toBe(5);
    // A malformed header counts as absent.
    expect(toIncoming(wire({ 'tidings-attempt': 'x' }), body, { ...where, deliveries: 2 }).attempt).toBe(2);
  });

  it('carry the key, the decoded headers, the body and the position', () => {
    const record = toIncoming(wire({ 'ce-id': 'e 1' }), Buffer.from('x'), { ...where, deliveries: 1 });
    expect(record).toMatchObject({ topic: 'order.placed', key: 'k', position: 'order.placed/3@17' });
    expect({ ...record.headers }).toEqual({ 'ce-id': 'e 1' });
    expect(Buffer.from(record.body).toString()).toBe('x');
  });
});
