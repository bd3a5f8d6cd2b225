let cachedMs = -1;
let cachedIso = '';

/**
 * The current time as an RFC 3339 string. Formatting a Date costs more than the rest of an
 * envelope; events published within one millisecond share the string.
 */
export function nowIso(): string {
  return isoAt(Date.now());
}

/** {@link nowIso} for a `Date.now()` value the caller has read already. */
export function isoAt(ms: number): string {
  if (ms !== cachedMs) {
    cachedMs = ms;
    cachedIso = new Date(ms).toISOString();
  }
  return cachedIso;
}
