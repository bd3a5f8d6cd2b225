import { describe, expect, it } from 'vitest';
import {
  estimateSize,
  fromKafkaHeaderPairs,
  fromKafkaHeaders,
  fromKafkaKey,
  fromKafkaMessage,
  fromKafkaValue,
  toKafkaMessage,
} from './codec';

describe('record conversion', () => {
  it('reads Kafka headers as strings, the last of repeated names winning', () => {
    expect(
      fromKafkaHeaders({
        ce_id: Buffer.from('e-1'),
        text: 'plain',
        repeated: [Buffer.from('first'), Buffer.from('last')],
        empty: Buffer.alloc(0),
        missing: undefined,
      }),
    ).toEqual({ ce_id: 'e-1', text: 'plain', repeated: 'last', empty: '' });
    expect(fromKafkaHeaders(undefined)).toEqual({});
  });

  it('reads header pairs off the wire as fromKafkaHeaders reads a header object', () => {
    const b = (text: string) => Buffer.from(text);
    const headers = fromKafkaHeaderPairs([
      [b('ce_id'), b('e-1')],
      [b('repeated'), b('first')],
      [b('repeated'), b('last')],
      [b('no-value'), null],
      [null, b('a value without a name')],
      [b('ż'), b('ź')],
    ]);
    expect(headers).toEqual({ ce_id: 'e-1', repeated: 'last', 'no-value': '', ż: 'ź' });
    expect(Object.getPrototypeOf(headers)).toBeNull();
    expect(fromKafkaHeaderPairs([])).toEqual({});
  });

  it('maps absent keys and tombstones', () => {
    expect(fromKafkaKey(null)).toBeUndefined();
    expect(fromKafkaKey(Buffer.from('klucz-ż'))).toBe('klucz-ż');
    expect(fromKafkaValue(null).byteLength).toBe(0);
  });

  it('reads a fetched record with its attempt by the one rule: the retry header, else 1', () => {
    const message = { key: Buffer.from('k'), value: null };
    const plain = fromKafkaMessage(message, fromKafkaHeaders({}), 'orders', 'orders/0@7');
    expect(plain).toMatchObject({ topic: 'orders', key: 'k', attempt: 1, position: 'orders/0@7' });
    expect(plain.body.byteLength).toBe(0);
    const retried = fromKafkaHeaders({ 'tidings-attempt': Buffer.from('3') });
    expect(fromKafkaMessage(message, retried, 'orders', 'orders/0@7').attempt).toBe(3);
    const forged = fromKafkaHeaders({ 'tidings-attempt': Buffer.from('-2') });
    expect(fromKafkaMessage(message, forged, 'orders', 'orders/0@7').attempt).toBe(1);
  });

  it('sends the caller bytes without copying them', () => {
    const bytes = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    const message = toKafkaMessage({ topic: 't', key: undefined, headers: { a: 'b' }, body: bytes });
    expect(message.key).toBeNull();
    expect(Buffer.isBuffer(message.value)).toBe(true);
    expect([...(message.value as Buffer)]).toEqual([2, 3]);
    expect((message.value as Buffer).buffer).toBe(bytes.buffer);
    expect(estimateSize({ topic: 't', key: 'kk', headers: { a: 'b' }, body: bytes })).toBe(64 + 2 + 2 + 10);
  });

  it('keeps headers named after prototype members as headers, on a record without a prototype', () => {
    // As kafkajs's decoder builds them: `{ ...obj, [key]: ... }` makes own properties, and it reads
    // `obj.constructor` of a fresh object as an earlier value, so `Object` comes first.
    const decoded = {
      ['__proto__']: [Object.prototype, Buffer.from('p')],
      constructor: [Object, Buffer.from('c')],
      toString: [Object.prototype.toString, Buffer.from('t1'), Buffer.from('t2')],
      nothing: null,
    } as unknown as Parameters<typeof fromKafkaHeaders>[0];
    const headers = fromKafkaHeaders(decoded);
    expect(Object.getPrototypeOf(headers)).toBeNull();
    expect(Object.keys(headers).sort()).toEqual(['__proto__', 'constructor', 'nothing', 'toString']);
    expect(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value).toBe('p');
    expect(headers.constructor).toBe('c');
    expect(headers.toString).toBe('t2');
    expect(headers.nothing).toBe('');
    expect(fromKafkaHeaders({}).hasOwnProperty).toBeUndefined();
  });
});
