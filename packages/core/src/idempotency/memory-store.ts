import { checkInteger } from '../internal/options';
import type { ClaimResult, IdempotencyStore } from './store';

/** Settings of {@link createMemoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /**
   * Most keys remembered. Past it, the oldest keys are forgotten first, which weakens
   * deduplication for very old redeliveries but bounds memory. Default 1,000,000.
   */
  readonly maxEntries?: number;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

interface Mark {
  readonly done: boolean;
  readonly expiresAt: number;
}

// Expired keys are swept a few at a time from the oldest end on each claim, keeping every call O(1).
const SWEEP_PER_CALL = 8;

/**
 * An idempotency store in process memory, with a time to live per key and a bound on its size.
 * It deduplicates within one process only; use the Redis or PostgreSQL store across processes.
 *
 * @example
 * ```ts
 * const store = createMemoryIdempotencyStore();
 * bus.subscribe(PaymentCaptured, { group: 'ledger', idempotency: { store, ttlMs: 3_600_000 } }, post);
 * ```
 */
export function createMemoryIdempotencyStore(
  options: MemoryIdempotencyStoreOptions = {},
): IdempotencyStore & {
  /** Number of keys currently remembered (expired ones may linger until swept). */
  readonly size: number;
} {
  const maxEntries = checkInteger('maxEntries', options.maxEntries ?? 1_000_000, 1);
  const now = options.now ?? Date.now;
  // A Map iterates in insertion order; re-inserting on every write keeps the oldest writes first.
  const marks = new Map<string, Mark>();

  const set = (key: string, mark: Mark): void => {
    marks.delete(key);
    marks.set(key, mark);
    while (marks.size > maxEntries) {
      const oldest = marks.keys().next().value as string;
      marks.delete(oldest);
    }
  };

  const sweep = (at: number): void => {
    let checked = 0;
    for (const [key, mark] of marks) {
      if (checked++ >= SWEEP_PER_CALL) break;
      if (mark.expiresAt <= at) marks.delete(key);
    }
  };

  return {
    get size() {
      return marks.size;
    },
    async claim(key, leaseMs) {
      const at = now();
      sweep(at);
      const mark = marks.get(key);
      if (mark !== undefined && mark.expiresAt > at) return mark.done ? 'done' : 'busy';
      set(key, { done: false, expiresAt: at + leaseMs });
      return 'claimed' satisfies ClaimResult;
    },
    async complete(key, ttlMs) {
      set(key, { done: true, expiresAt: now() + ttlMs });
    },
    async release(key) {
      const mark = marks.get(key);
      if (mark !== undefined && !mark.done) marks.delete(key);
    },
  };
}
