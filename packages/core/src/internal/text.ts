/**
 * @internal Cuts `text` to at most `max` characters, marking the cut with `…` and the length it
 * had, so that a message or log line quoting hostile input (a 100 KB event type) stays small.
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…(${text.length} chars)`;
}

/** @internal `text` in double quotes, clipped to `max` characters, control characters escaped. */
export function quote(text: string, max = 120): string {
  return JSON.stringify(clip(text, max));
}

/** @internal UTF-8 length of a string, in bytes. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * @internal The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that does not split a
 * character (nor a surrogate pair).
 */
export function utf8Prefix(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = utf8Bytes(char);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}
