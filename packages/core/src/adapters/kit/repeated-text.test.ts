import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RepeatedText } from './repeated-text';

describe('RepeatedText', () => {
  it('reads every position as its bytes say, whatever came there before', () => {
    // Sequences of short texts at a few positions, many repeated, some of the same length as the
    // one before: the decoder must never give a remembered text for other bytes.
    const texts = fc.constantFrom('ce_id', 'ce_ix', 'order.placed', 'order.placee', '', 'é', '\u{1F600}');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 3 }), texts), { maxLength: 200 }), (reads) => {
        const decoder = new RepeatedText();
        for (const [slot, text] of reads) expect(decoder.text(Buffer.from(text), slot)).toBe(text);
      }),
    );
  });

  it('keeps its own copy: a read buffer written over after a read does not change what it gives', () => {
    const decoder = new RepeatedText();
    const socket = Buffer.from('ce_type=order.placed');
    const view = socket.subarray(0, 7);
    expect(decoder.text(view, 0)).toBe('ce_type');
    socket.write('ce_time');
    expect(decoder.text(view, 0)).toBe('ce_time');
    socket.write('ce_type');
    expect(decoder.text(view, 0)).toBe('ce_type');
  });

  it('reads invalid UTF-8 as U+FFFD, and long texts or far positions without remembering them', () => {
    const decoder = new RepeatedText();
    expect(decoder.text(Buffer.from([0x63, 0xff]), 0)).toBe('c\uFFFD');
    const long = 'x'.repeat(200);
    expect(decoder.text(Buffer.from(long), 1)).toBe(long);
    expect(decoder.text(Buffer.from(long), 1)).toBe(long);
    expect(decoder.text(Buffer.from('far'), 500)).toBe('far');
    expect(decoder.text(Buffer.from('fat'), 500)).toBe('fat');
  });

  it('decodes bytes a position held last time no more, and a changing position settles after 64 misses', () => {
    const decoder = new RepeatedText();
    let decodes = 0;
    const counted = (text: string): Buffer => {
      const bytes = Buffer.from(text);
      const decode = bytes.toString.bind(bytes);
      bytes.toString = (...args: Parameters<Buffer['toString']>) => {
        decodes++;
        return decode(...args);
      };
      return bytes;
    };
    for (let i = 0; i < 10; i++) expect(decoder.text(counted('bench.event'), 0)).toBe('bench.event');
    expect(decodes).toBe(1);
    // Position 1 keeps its first copy through 63 misses, then takes what it sees at the 64th.
    decoder.text(counted('id-first'), 1);
    for (let i = 0; i < 63; i++) decoder.text(counted(`id-${i}`), 1);
    decoder.text(counted('stable'), 1);
    decodes = 0;
    for (let i = 0; i < 5; i++) expect(decoder.text(counted('stable'), 1)).toBe('stable');
    expect(decodes).toBe(0);
  });
});
