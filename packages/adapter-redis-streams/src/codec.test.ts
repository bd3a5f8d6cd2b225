import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFields, decodeHeaders, encodeFields, encodeHeaders } from './codec';

/** The XADD arguments as Redis hands them back in buffer mode. */
function asStored(args: (string | Buffer)[]): Buffer[] {
  return args.map((arg) => (typeof arg === 'string' ? Buffer.from(arg, 'utf8') : Buffer.from(arg)));
}

describe('entry fields', () => {
  it('round-trips any key, header names and values, and body bytes', () => {
    fc.assert(
      fc.property(
        fc.option(fc.string(), { nil: undefined }),
        fc.dictionary(fc.string(), fc.string()),
        fc.uint8Array(),
        (key, headers, body) => {
          const back = decodeFields(asStored(encodeFields({ key, headers, body })));
          expect(back.key).toBe(key);
          expect(Object.entries(back.headers).sort()).toEqual(Object.entries(headers).sort());
          expect(Buffer.from(back.body).equals(Buffer.from(body))).toBe(true);
        },
      ),
    );
  });

  it('escapes header names that start with $ so none is taken for the body or the key', () => {
    const args = encodeFields({
      key: undefined,
      headers: { $body: 'h', $key: 'k', $$x: 'x' },
      body: Buffer.from('b'),
    });
    expect(args.map(String)).toEqual(['$body', 'b', '$$body', 'h', '$$key', 'k', '$$$x', 'x']);
  });

  it('reads an entry written by another tool: no body field, unknown reserved fields skipped', () => {
    const back = decodeFields(asStored(['ce_type', 'order.placed', '$future', 'x']));
    expect(back).toEqual({ key: undefined, headers: { ce_type: 'order.placed' }, body: new Uint8Array(0) });
  });

  it('keeps a header called __proto__ as a header', () => {
    const back = decodeFields(asStored(['__proto__', 'p', '$body', '']));
    expect(Object.getPrototypeOf(back.headers)).toBe(Object.prototype);
    expect(Object.entries(back.headers)).toEqual([['__proto__', 'p']]);
  });
});

describe('retry headers', () => {
  it('round-trip, and anything unreadable counts as none', () => {
    expect(decodeHeaders(encodeHeaders({ 'tidings-attempt': '2' }))).toEqual({ 'tidings-attempt': '2' });
    expect(decodeHeaders(undefined)).toBeUndefined();
    expect(decodeHeaders('not json')).toBeUndefined();
    expect(decodeHeaders('[1]')).toBeUndefined();
    expect(decodeHeaders('{"a":1,"b":"x"}')).toEqual({ b: 'x' });
  });
});
