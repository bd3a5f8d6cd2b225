/**
 * Text of header names and values that a broker hands over as bytes, decoded once for as long as
 * they repeat.
 *
 * @module
 */

/** Positions remembered; a record with more headers decodes the rest each time. */
const SLOTS = 32;
/** Longest bytes remembered: names and values such as types, sources and content types are short. */
const MAX_BYTES = 64;
/** Misses after which a position takes a fresh copy of what it sees now. */
const RECOPY_EVERY = 64;

interface LastText {
  readonly bytes: Buffer;
  readonly text: string;
  /** Misses since the copy was made. */
  misses: number;
}

/**
 * UTF-8 text of header names or values read as bytes, where the same bytes come again at the same
 * position record after record: the records of a topic carry the same header names in the same
 * order, and many of the same values (type, source, spec version, content type). The text last
 * decoded at each position is kept with a copy of its bytes; the same bytes there again give the
 * same string without a decode, since comparing a few bytes costs a fraction of a `toString` and
 * leaves no string to collect. A position whose text keeps changing (an id, a time) takes a new
 * copy only once in 64 misses, so it costs a short comparison, not a copy each time.
 *
 * The copy is the decoder's own: the bytes given are often a view of a socket's read buffer, which
 * must not be kept alive. Invalid UTF-8 reads as U+FFFD, as `Buffer.toString` reads it.
 *
 * Keep one decoder for names and one for values. Sharing them between readers is safe, and cheap
 * while their records look alike; readers of very different records spoil what each other remembers.
 *
 * @example
 * ```ts
 * import { RepeatedText } from '@tidings/core/adapter';
 *
 * const names = new RepeatedText();
 * const values = new RepeatedText();
 * const pairs: [Buffer, Buffer][] = [[Buffer.from('ce_type'), Buffer.from('order.placed')]];
 * const headers: Record<string, string> = Object.create(null);
 * pairs.forEach(([name, value], slot) => {
 *   headers[names.text(name, slot)] = values.text(value, slot);
 * });
 * ```
 */
export class RepeatedText {
  private readonly last: (LastText | undefined)[] = [];

  /** `bytes.toString('utf8')`; without decoding when position `slot` held the same bytes last time. */
  text(bytes: Buffer, slot: number): string {
    const seen = this.last[slot];
    if (seen !== undefined && sameBytes(seen.bytes, bytes)) return seen.text;
    const text = bytes.toString();
    if (slot < SLOTS && bytes.length <= MAX_BYTES && (seen === undefined || ++seen.misses >= RECOPY_EVERY)) {
      this.last[slot] = { bytes: Buffer.from(bytes), text, misses: 0 };
    }
    return text;
  }
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
