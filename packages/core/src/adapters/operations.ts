/**
 * The operational parts of the adapter contract: browsing, redriving and purging dead letters, and
 * replaying retained history to one consumer group. Only some brokers can do them, so each is an
 * optional interface that the core finds at run time (`hasDeadLetterStore`, `hasHistoryReplay`),
 * and each adapter says in `capabilities.operations` what it can do or why it cannot.
 *
 * The adapter holds no policy here either: filters, rate limits and cancellation live once, in the
 * core's operator (`createOperator`). The adapter reads pages of stored dead letters, redelivers
 * the ones named to their failed group only, and deletes the ones named.
 *
 * @module
 */
import type { RecordHeaders } from './contract';

/**
 * Where the dead letters of one consumer group on one topic are, as the core tells the adapter.
 *
 * @example
 * ```ts
 * const at: DeadLetterLocation = { topic: 'order.placed', group: 'billing', deadLetterTopic: 'order.placed.billing.dlq' };
 * ```
 */
export interface DeadLetterLocation {
  /** The topic the records failed on. */
  readonly topic: string;
  /** The consumer group they failed in: the only group a redrive delivers to. */
  readonly group: string;
  /** The dead-letter topic they were written to (the core names it, see `deadLetterTopic`). */
  readonly deadLetterTopic: string;
}

/**
 * A dead letter as the broker stores it: the record the core's dead-letter settlement wrote,
 * with the adapter's id for it.
 *
 * @example
 * ```ts
 * const letter: StoredDeadLetter = {
 *   id: '1719830400000-0',
 *   key: 'order-42',
 *   headers: { 'tidings-dlq-reason': 'ValidationError: total must be positive' },
 *   body: new Uint8Array(),
 * };
 * ```
 */
export interface StoredDeadLetter {
  /**
   * The adapter's id of the dead letter in its store, stable as long as it is stored, and in
   * store order: a later dead letter has a later id in the order the pages list them.
   */
  readonly id: string;
  readonly key: string | undefined;
  /** The record's own headers with the failure metadata (see `DEAD_LETTER_HEADERS`). */
  readonly headers: RecordHeaders;
  readonly body: Uint8Array;
}

/**
 * One page of stored dead letters.
 *
 * @example
 * ```ts
 * const page: DeadLetterPage = { letters: [], cursor: undefined };
 * ```
 */
export interface DeadLetterPage {
  /** The dead letters, in store order. */
  readonly letters: readonly StoredDeadLetter[];
  /** Pass it to the next call to read on; `undefined` when this was the last page. */
  readonly cursor: string | undefined;
}

/**
 * What became of one dead letter named in {@link DeadLetterStore | `DeadLetterStore.redrive`}:
 * - `redriven`: the broker confirmed that the failed group will receive the record again, and the
 *   dead letter is removed from the store (in that order: a crash between the two leaves both,
 *   and the group handles the record once more, which the idempotency policy makes safe);
 * - `missing`: no such dead letter is stored (already redriven or purged);
 * - `refused`: the broker cannot deliver it to the group only (`reason` says why); it stays stored.
 *
 * @example
 * ```ts
 * const outcome: RedriveOutcome = { id: '1719830400000-0', status: 'refused', reason: 'the original was trimmed' };
 * ```
 */
export interface RedriveOutcome {
  readonly id: string;
  readonly status: 'redriven' | 'missing' | 'refused';
  /** Why a dead letter was refused. */
  readonly reason?: string;
}

/**
 * An optional capability of an adapter: its broker keeps dead letters in a store it can list and
 * change. Declared by `capabilities.operations.deadLetters === true` and by implementing these
 * methods. Each may be called concurrently with publishing and consuming; none takes a record
 * from any consumer group of the dead-letter topic.
 *
 * @example
 * ```ts
 * class MyAdapter implements BrokerAdapter, DeadLetterStore {
 *   async readDeadLetters(at: DeadLetterLocation, cursor: string | undefined, limit: number) {
 *     const letters = await this.client.range(at.deadLetterTopic, cursor, limit);
 *     return { letters, cursor: letters.length < limit ? undefined : letters.at(-1)?.id };
 *   }
 *   // ...redriveDeadLetters, deleteDeadLetters and the BrokerAdapter members
 * }
 * ```
 */
export interface DeadLetterStore {
  /**
   * Reads up to `limit` dead letters of `at` after `cursor` (from the first when `undefined`),
   * without consuming them: no group's position moves and nothing is acknowledged. Any dead
   * letter's id is a cursor that reads on after it, even once that letter was removed; the page's
   * `cursor` is its last letter's id, or `undefined` when no letter follows.
   */
  readDeadLetters(at: DeadLetterLocation, cursor: string | undefined, limit: number): Promise<DeadLetterPage>;
  /**
   * Delivers the named dead letters again to `at.group` on `at.topic`, and to no other group, each
   * as a record with attempt 1 and without the failure metadata; removes each from the store only
   * once the broker confirmed its redelivery. Resolves with one outcome per id, in order. Rejects
   * only when the broker could not be asked at all; the letters it confirmed before then are
   * redriven and removed.
   */
  redriveDeadLetters(at: DeadLetterLocation, ids: readonly string[]): Promise<readonly RedriveOutcome[]>;
  /** Deletes the named dead letters; resolves with how many were stored and are now gone. */
  deleteDeadLetters(at: DeadLetterLocation, ids: readonly string[]): Promise<number>;
}

/**
 * Where a replay starts: the first record at or after a time, or a broker position (inclusive),
 * in the adapter's own notation (`IncomingRecord.position`).
 *
 * @example
 * ```ts
 * const fromTime: ReplayFrom = { time: new Date('2026-12-01T10:00:00Z') };
 * const fromPosition: ReplayFrom = { position: '1719830400000-0' };
 * ```
 */
export type ReplayFrom = { readonly time: Date } | { readonly position: string };

/**
 * An optional capability of an adapter: delivering a topic's retained history again to one
 * consumer group, without touching any other group. Declared by
 * `capabilities.operations.replay === true` and by implementing this method.
 *
 * @example
 * ```ts
 * class MyAdapter implements BrokerAdapter, HistoryReplay {
 *   async replayHistory(topic: string, group: string, from: ReplayFrom) {
 *     await this.client.setGroupPosition(topic, group, from);
 *   }
 *   // ...the BrokerAdapter members
 * }
 * ```
 */
export interface HistoryReplay {
  /**
   * Moves `group`'s position on `topic` back (or forward) to `from`, so that its members receive
   * every retained record from there on, records it already settled included (at-least-once: a
   * record the group holds pending may come twice). Other groups are not touched. Rejects with a
   * `ConfigError` naming `group` when the group does not exist on the topic, and naming `from`
   * when the position is not one of the adapter's.
   */
  replayHistory(topic: string, group: string, from: ReplayFrom): Promise<void>;
}

/** @internal Whether an adapter implements {@link DeadLetterStore}. */
export function hasDeadLetterStore(adapter: unknown): adapter is DeadLetterStore {
  const store = adapter as Partial<DeadLetterStore> | undefined;
  return (
    typeof store?.readDeadLetters === 'function' &&
    typeof store.redriveDeadLetters === 'function' &&
    typeof store.deleteDeadLetters === 'function'
  );
}

/** @internal Whether an adapter implements {@link HistoryReplay}. */
export function hasHistoryReplay(adapter: unknown): adapter is HistoryReplay {
  return typeof (adapter as Partial<HistoryReplay> | undefined)?.replayHistory === 'function';
}
