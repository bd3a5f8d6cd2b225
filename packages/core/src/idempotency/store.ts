/**
 * The outcome of {@link IdempotencyStore.claim}:
 * - `claimed`: the caller holds the key now and should handle the message;
 * - `done`: the message was handled already; skip it;
 * - `busy`: another consumer holds a live claim; try again later.
 */
export type ClaimResult = 'claimed' | 'done' | 'busy';

/**
 * Remembers which messages a consumer group has handled, so that redeliveries and duplicates are
 * skipped. Implementations must make `claim` atomic across every consumer sharing the store.
 *
 * @example
 * ```ts
 * const store: IdempotencyStore = createMemoryIdempotencyStore({ maxEntries: 100_000 });
 * bus.subscribe(OrderPlaced, { group: 'billing', idempotency: { store } }, chargeCustomer);
 * ```
 */
export interface IdempotencyStore {
  /**
   * Claims `key` for `leaseMs`, unless it is done or claimed by someone else whose lease has not
   * run out. A claim whose lease ran out (its holder crashed) can be taken over.
   */
  claim(key: string, leaseMs: number): Promise<ClaimResult>;
  /** Marks a claimed key done, remembered for `ttlMs`. */
  complete(key: string, ttlMs: number): Promise<void>;
  /** Gives up a claim after a failure, so that the next delivery can claim the key again. */
  release(key: string): Promise<void>;
}
