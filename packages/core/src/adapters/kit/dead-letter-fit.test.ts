import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fitDeadLetter } from './dead-letter-fit';

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
const metadata = { 'tidings-dlq-reason': 'DecodeError: bad', 'tidings-dlq-group': 'g' };

describe('fitDeadLetter', () => {
  it('keeps the full copy when it fits', () => {
    const body = Buffer.from('hello');
    const fitted = fitDeadLetter({ ...metadata, ce_type: 'order.placed' }, body, { maxBytes: 1_000 });
    expect(fitted.reduced).toEqual([]);
    expect(fitted.body).toBe(body);
    expect(fitted.headers).toEqual({ ...metadata, ce_type: 'order.placed' });
  });

  it('drops a body that does not fit beside the headers, saying its size and digest', () => {
    const body = new Uint8Array(1_000).fill(1);
    const fitted = fitDeadLetter(metadata, body, { maxBytes: 1_000 });
    expect(fitted.reduced).toEqual(['body']);
    expect(fitted.body.byteLength).toBe(0);
    expect(fitted.headers).toMatchObject({
      ...metadata,
      'tidings-dlq-reduced': 'body',
      'tidings-dlq-original-body-bytes': '1000',
      'tidings-dlq-original-body-sha256': sha256(body),
    });
  });

  it('cuts a header value over the per-value limit, listing it with its size and digest', () => {
    const type = 't'.repeat(65_000);
    const fitted = fitDeadLetter({ ...metadata, ce_type: type }, Buffer.from('{}'), {
      maxBytes: 1_048_576,
      maxHeaderValueBytes: 4_096,
    });
    expect(fitted.reduced).toEqual(['headers']);
    expect(Buffer.byteLength(fitted.headers.ce_type!)).toBeLessThanOrEqual(4_096);
    expect(fitted.headers.ce_type!.endsWith('…')).toBe(true);
    expect(JSON.parse(fitted.headers['tidings-dlq-cut-headers']!)).toEqual([
      { name: 'ce_type', bytes: 65_000, sha256: sha256(type) },
    ]);
    expect(Buffer.from(fitted.body).toString()).toBe('{}');
    expect(fitted.headers['tidings-dlq-reason']).toBe('DecodeError: bad');
  });

  it('cuts values to 256 bytes when the header block is over its limit, and never the failure metadata', () => {
    const headers = {
      ...metadata,
      'tidings-dlq-error-message': 'm'.repeat(999),
      a: 'a'.repeat(3_000),
      b: 'b'.repeat(3_000),
    };
    const fitted = fitDeadLetter(headers, Buffer.from('x'), { maxBytes: 1_000_000, maxHeaderBytes: 4_000 });
    expect(fitted.reduced).toEqual(['headers']);
    expect(Buffer.byteLength(fitted.headers.a!)).toBeLessThanOrEqual(256);
    expect(Buffer.byteLength(fitted.headers.b!)).toBeLessThanOrEqual(256);
    expect(fitted.headers['tidings-dlq-error-message']).toBe('m'.repeat(999));
  });

  it('drops a header whose name alone is over 255 bytes', () => {
    const name = 'n'.repeat(300);
    const fitted = fitDeadLetter({ ...metadata, [name]: 'v' }, Buffer.from('x'), {
      maxBytes: 100_000,
      maxHeaderValueBytes: 1_000,
    });
    expect(Object.keys(fitted.headers)).not.toContain(name);
    const cuts = JSON.parse(fitted.headers['tidings-dlq-cut-headers']!) as { name: string }[];
    expect(cuts[0]!.name).toBe(`${'n'.repeat(63)}…`);
  });

  it('does not split a character when it cuts', () => {
    const fitted = fitDeadLetter({ x: '€'.repeat(1_000) }, Buffer.alloc(0), {
      maxBytes: 10_000,
      maxHeaderValueBytes: 100,
    });
    expect(fitted.headers.x).toMatch(/^€+…$/);
    expect(Buffer.byteLength(fitted.headers.x!)).toBeLessThanOrEqual(100);
  });

  it('keeps a header named __proto__ as a header', () => {
    const headers = JSON.parse(`{"__proto__":"kept","big":"${'b'.repeat(500)}"}`) as Record<string, string>;
    const fitted = fitDeadLetter(headers, Buffer.alloc(0), { maxBytes: 10_000, maxHeaderValueBytes: 100 });
    expect(Object.getOwnPropertyDescriptor(fitted.headers, '__proto__')?.value).toBe('kept');
  });

  it('makes the minimal copy on demand, even of a record that fits', () => {
    const fitted = fitDeadLetter({ ...metadata, big: 'b'.repeat(1_000) }, Buffer.from('body'), {
      maxBytes: 1_000_000,
      minimal: true,
    });
    expect(fitted.reduced).toEqual(['headers', 'body']);
    expect(fitted.body.byteLength).toBe(0);
    expect(Buffer.byteLength(fitted.headers.big!)).toBeLessThanOrEqual(256);
    expect(fitted.headers['tidings-dlq-reduced']).toBe('headers,body');
  });

  it('drops the largest of many small headers when the block is still over its limit', () => {
    const headers: Record<string, string> = { ...metadata };
    for (let i = 0; i < 500; i++) headers[`x-${i}`] = 'v'.repeat(i % 50);
    const fitted = fitDeadLetter(headers, Buffer.from('x'), { maxBytes: 1_000_000, maxHeaderBytes: 4_000 });
    expect(fitted.reduced).toContain('headers');
    expect(Number(fitted.headers['tidings-dlq-dropped-headers'])).toBeGreaterThan(0);
    const size = Object.entries(fitted.headers).reduce(
      (sum, [n, v]) => sum + Buffer.byteLength(n) + Buffer.byteLength(v) + 8,
      0,
    );
    expect(size).toBeLessThanOrEqual(4_000);
    expect(fitted.headers['tidings-dlq-reason']).toBe('DecodeError: bad');
  });
});
