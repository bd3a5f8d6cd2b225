import { describe, expect, it } from 'vitest';
import { estimateSize, fromKafkaHeaders, fromKafkaKey, fromKafkaValue, toKafkaMessage } from './records';

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

  it('maps absent keys and tombstones', () => {
    expect(fromKafkaKey(null)).toBeUndefined();
    expect(fromKafkaKey(Buffer.from('klucz-ż'))).toBe('klucz-ż');
    expect(fromKafkaValue(null).byteLength).toBe(0);
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
});
