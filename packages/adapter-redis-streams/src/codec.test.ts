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

  it('reads names as their bytes say, entry after entry, when the names at a position change', () => {
    // The decoder keeps the last name seen at each position: same-length names, invalid UTF-8 and
    // a read buffer reused for the next entry must all still read as their own bytes.
    const shared = Buffer.from('ce_aaa');
    const first = decodeFields([shared, Buffer.from('1'), Buffer.from('$body'), Buffer.from('b')]);
    shared.write('ce_bbb');
    const second = decodeFields([shared, Buffer.from('2'), Buffer.from('$key!'), Buffer.from('k')]);
    // Values too: the same bytes at a position, then other bytes of the same length, then a buffer
    // rewritten in place after it was read.
    const value = Buffer.from('x1');
    const values = ['x1', 'x1', 'x2', 'x1'].map((text) => {
      value.write(text);
      return decodeFields([Buffer.from('h'), value]).headers.h;
    });
    expect(values).toEqual(['x1', 'x1', 'x2', 'x1']);
    const third = decodeFields([Buffer.from([0x63, 0xff]), Buffer.from('3')]);
    expect({ ...first.headers }).toEqual({ ce_aaa: '1' });
    expect(Buffer.from(first.body).toString()).toBe('b');
    expect({ ...second.headers }).toEqual({ ce_bbb: '2' });
    expect(second.body).toEqual(new Uint8Array(0));
    expect({ ...third.headers }).toEqual({ 'c\uFFFD': '3' });
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
    expect(back.key).toBeUndefined();
    expect({ ...back.headers }).toEqual({ ce_type: 'order.placed' });
    expect(back.body).toEqual(new Uint8Array(0));
  });

  it('keeps fields called __proto__, constructor and toString as headers, in a prototype-free object', () => {
    const back = decodeFields(asStored(['__proto__', 'p', 'constructor', 'c', 'toString', 't', '$body', '']));
    expect(Object.getPrototypeOf(back.headers)).toBeNull();
    expect(Object.entries(back.headers)).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['toString', 't'],
    ]);
    // A header that is absent is absent, not a member of Object.prototype.
    const bare = decodeFields(asStored(['$body', 'x']));
    expect(bare.headers.constructor).toBeUndefined();
    expect(bare.headers.hasOwnProperty).toBeUndefined();
    expect(({} as Record<string, unknown>).p).toBeUndefined();
  });

  it('reads bytes that are not UTF-8 in names, values and the key as U+FFFD, without failing', () => {
    const bad = Buffer.from([0xff, 0xfe, 0xc3, 0x28]);
    const back = decodeFields([Buffer.from('$key'), bad, bad, Buffer.from('v'), Buffer.from('h'), bad]);
    expect(back.key).toBe('\uFFFD\uFFFD\uFFFD(');
    expect(back.headers).toEqual(
      Object.assign(Object.create(null), { '\uFFFD\uFFFD\uFFFD(': 'v', h: '\uFFFD\uFFFD\uFFFD(' }),
    );
    expect(back.body.byteLength).toBe(0);
  });

  it('ignores a field without a value (an odd count of fields)', () => {
    const back = decodeFields(asStored(['$body', 'b', 'dangling']));
    expect(Object.keys(back.headers)).toEqual([]);
    expect(Buffer.from(back.body).toString()).toBe('b');
  });
});

describe('retry headers', () => {
  it('round-trip, and anything unreadable counts as none', () => {
    expect({ ...decodeHeaders(encodeHeaders({ 'tidings-attempt': '2' })) }).toEqual({
      'tidings-attempt': '2',
    });
    expect(decodeHeaders(undefined)).toBeUndefined();
    expect(decodeHeaders('not json')).toBeUndefined();
    expect(decodeHeaders('[1]')).toBeUndefined();
    expect({ ...decodeHeaders('{"a":1,"b":"x"}') }).toEqual({ b: 'x' });
    const proto = decodeHeaders('{"__proto__":"p"}')!;
    expect(Object.getPrototypeOf(proto)).toBeNull();
    expect(Object.entries(proto)).toEqual([['__proto__', 'p']]);
  });
});
