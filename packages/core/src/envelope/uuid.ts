import { randomFillSync } from 'node:crypto';

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

// Random bytes are drawn in blocks: one getrandom call per 256 ids instead of one per id.
const POOL_IDS = 256;
const pool = new Uint8Array(10 * POOL_IDS);
let poolOffset = pool.length;

let lastMs = -1;
let counter = 0;

/**
 * Returns a new UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter that keeps
 * ids made in one millisecond strictly increasing within this process, then 62 random bits. Ids
 * sort by creation time, which keeps database indexes and broker logs tidy.
 *
 * @example
 * ```ts
 * const id = uuidv7(); // '0192f0c4-3b8e-7c1a-9d2e-4f6a8b0c1d2e'
 * ```
 */
export function uuidv7(): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const r = poolOffset;
  poolOffset += 10;

  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    // Seed the counter at random with its top bit clear, leaving room to count up within the ms.
    counter = ((pool[r]! << 8) | pool[r + 1]!) & 0x7ff;
  } else {
    counter += 1;
    if (counter > 0xfff) {
      // More than ~2000 ids in one millisecond: borrow the next millisecond to stay monotonic.
      lastMs += 1;
      counter = 0;
    }
    ms = lastMs;
  }

  const hi = Math.floor(ms / 0x1000000);
  const lo = ms % 0x1000000;
  return (
    HEX[(hi >>> 16) & 0xff]! +
    HEX[(hi >>> 8) & 0xff]! +
    HEX[hi & 0xff]! +
    HEX[(lo >>> 16) & 0xff]! +
    '-' +
    HEX[(lo >>> 8) & 0xff]! +
    HEX[lo & 0xff]! +
    '-' +
    HEX[0x70 | (counter >>> 8)]! +
    HEX[counter & 0xff]! +
    '-' +
    HEX[0x80 | (pool[r + 2]! & 0x3f)]! +
    HEX[pool[r + 3]!]! +
    '-' +
    HEX[pool[r + 4]!]! +
    HEX[pool[r + 5]!]! +
    HEX[pool[r + 6]!]! +
    HEX[pool[r + 7]!]! +
    HEX[pool[r + 8]!]! +
    HEX[pool[r + 9]!]!
  );
}

/** Reads the Unix millisecond timestamp out of a UUIDv7, or `undefined` if `id` is not one. */
export function uuidv7Time(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return undefined;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
