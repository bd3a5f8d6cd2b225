/**
 * The outbox contract: what a relay needs from the place events wait in before they reach the
 * broker. A store keeps records that `bus.prepare` encoded (so validation and publish middleware
 * ran when the event was written) and hands them to relays in claims that keep per-key order.
 *
 * @module
 */
import type { OutgoingRecord } from '../adapters/contract';

/**
 * A record waiting in an outbox, as a claim hands it out.
 *
 * @example
 * ```ts
 * const claim = await store.claim(100);
 * for (const pending of claim?.records ?? []) console.log(pending.id, pending.record.topic, pending.attempts);
 * ```
 */
export interface OutboxRecord {
  /** The store's id of the record, unique within the store; ids grow in write order. */
  readonly id: string;
  /** The encoded record, ready for `adapter.publish`. */
  readonly record: OutgoingRecord;
  /** When the record was written to the store. */
  readonly writtenAt: Date;
  /** Failed publish attempts so far (relays that gave the record back with an error). */
  readonly attempts: number;
}

/**
 * How a relay ends a claim. Every record of the claim that is neither in `sent` nor in `failed`
 * goes back to pending, in its place, for the next claim.
 *
 * @example
 * ```ts
 * await claim.settle({ sent: claim.records.map((r) => r.id) });
 * await claim.settle({ sent: [], error: new Error('broker unreachable') });
 * ```
 */
export interface OutboxSettlement {
  /** Ids of the records the broker accepted; the store marks them sent. */
  readonly sent: readonly string[];
  /**
   * Records the broker will never accept (an oversize body, say), with the reason. The store
   * parks them as failed: they leave the pending queue, so later records of their key go on.
   */
  readonly failed?: readonly { readonly id: string; readonly error: Error }[];
  /** Why the remaining records were not sent; the store may record it beside them. */
  readonly error?: Error;
}

/**
 * A batch of records held by one relay until it settles them.
 *
 * @example
 * ```ts
 * const claim = await store.claim(100);
 * if (claim !== undefined) {
 *   await adapter.publish(claim.records.map((r) => r.record));
 *   await claim.settle({ sent: claim.records.map((r) => r.id) });
 * }
 * ```
 */
export interface OutboxClaim {
  /** The claimed records, in the order to publish them (write order). Never empty. */
  readonly records: readonly OutboxRecord[];
  /**
   * Ends the claim: marks sent and failed records, returns the others to pending and releases
   * every lock the claim held. Call it exactly once. If it rejects, the store has released the
   * claim without marking anything (the records will be published again: duplicates, not loss).
   */
  settle(settlement: OutboxSettlement): Promise<void>;
}

/**
 * The state of an outbox, for the relay's metrics.
 *
 * @example
 * ```ts
 * const { pending, failed, lagMs } = await store.stats();
 * ```
 */
export interface OutboxStats {
  /** Records waiting to be published (claimed ones included). */
  readonly pending: number;
  /** Records parked as unpublishable, waiting for an operator. */
  readonly failed: number;
  /** Age of the oldest pending record in milliseconds, by the store's clock; 0 when none. */
  readonly lagMs: number;
}

/**
 * A running watch on an outbox's writes; see {@link OutboxStore.watch}.
 *
 * @example
 * ```ts
 * const watch = store.watch?.(() => relay.wake());
 * await watch?.close();
 * ```
 */
export interface OutboxWatch {
  /** Stops watching and releases what the watch holds (a database connection). Idempotent. */
  close(): Promise<void>;
}

/**
 * Where outbox records wait for a relay. Implementations: the memory outbox in `@tidings/core`,
 * the PostgreSQL outbox in `@tidings/outbox-postgres`.
 *
 * The ordering promise a store must keep: records of one key are claimed in write order, and
 * never two claims at once for one key. Precisely, every claim holds, for each key in it, the
 * oldest pending records of that key (a prefix of the key's queue), and no other claim gets a
 * record of that key before this one is settled. Records without a key have no order.
 *
 * @example
 * ```ts
 * const relay = createOutboxRelay({ store: outbox, bus });
 * await relay.start();
 * ```
 */
export interface OutboxStore {
  /**
   * The header prefix of the adapter whose bus encoded the records (`capabilities.headerPrefix`).
   * A relay refuses to publish through an adapter with another prefix, which its consumers
   * could not decode.
   */
  readonly headerPrefix?: string;
  /**
   * Claims up to `limit` pending records for the caller, or resolves `undefined` when none can be
   * claimed now (nothing pending, or every pending key held by other claims). The claim lasts
   * until it is settled, or until its holder dies (a store shared between processes must then
   * release it, as a database does when the connection closes).
   */
  claim(limit: number): Promise<OutboxClaim | undefined>;
  /** Counts and lag of the store. */
  stats(): Promise<OutboxStats>;
  /**
   * Calls `listener` soon after new records become claimable (a committed write). Optional: a
   * relay polls stores without it. Best effort: a missed call only delays the records until the
   * next poll.
   */
  watch?(listener: () => void): OutboxWatch;
  /** Deletes sent records past the store's retention; resolves with how many. Optional. */
  prune?(): Promise<number>;
}
