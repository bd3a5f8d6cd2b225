// The shapes of the operator's API: what it is given, what it returns.
import type { BrokerAdapter, IncomingRecord, RecordHeaders } from '../adapters/contract';
import type { ReplayFrom } from '../adapters/operations';
import type { GroupDescription } from '../adapters/optional';
import type { AnyEventContract } from '../contracts/define-event';
import type { Codec } from '../envelope/codec';
import type { Envelope } from '../envelope/envelope';
import type { DeadLetterTopicNamer } from '../policies/dead-letter';

/**
 * Settings of {@link createOperator}.
 *
 * @example
 * ```ts
 * const options: OperatorOptions = { adapter, events: [OrderPlaced], deadLetterTopic: (topic, group) => `dlq.${group}.${topic}` };
 * ```
 */
export interface OperatorOptions {
  /** The adapter on the broker to operate: the bus's own, or another one on the same broker. */
  readonly adapter: BrokerAdapter;
  /**
   * Contracts to decode dead letters with (upcast to the current version); a dead letter of any
   * other type is shown with its envelope's data as the codec read it. Default: none.
   */
  readonly events?: readonly AnyEventContract[];
  /** Codecs, as given to the bus. Default: JSON. */
  readonly codecs?: readonly Codec[];
  /** How the bus names dead-letter topics, as given to the bus. Default `<topic>.<group>.dlq`. */
  readonly deadLetterTopic?: DeadLetterTopicNamer;
}

/**
 * Which dead letters an operation applies to: those of one consumer group on one topic, narrowed
 * by the filters given (all must match).
 *
 * @example
 * ```ts
 * const selection: DeadLetterSelection = {
 *   topic: 'order.placed',
 *   group: 'billing',
 *   reason: /ValidationError/,
 *   since: new Date('2026-12-01T00:00:00Z'),
 * };
 * ```
 */
export interface DeadLetterSelection {
  /** The topic the records failed on. */
  readonly topic: string;
  /** The consumer group they failed in. */
  readonly group: string;
  /** Only these ids. */
  readonly ids?: readonly string[];
  /** Only events of this type (or one of these), as the envelope's `type` says. */
  readonly type?: string | readonly string[];
  /** Only dead letters whose reason contains this text, or matches this expression. */
  readonly reason?: string | RegExp;
  /** Only dead letters whose last failure is at or after this time. */
  readonly since?: Date;
  /** Only dead letters whose last failure is before this time. */
  readonly until?: Date;
}

/**
 * The failure metadata of a dead letter, read from its headers. A field the record does not carry
 * (a dead letter written by another tool) is `undefined`.
 *
 * @example
 * ```ts
 * const failure: DeadLetterFailure = letter.failure;
 * console.log(`${failure.errorName} after ${failure.attempts} attempts: ${failure.reason}`);
 * ```
 */
export interface DeadLetterFailure {
  readonly reason: string | undefined;
  /** The error's class name, e.g. `ValidationError`. */
  readonly errorName: string | undefined;
  readonly errorMessage: string | undefined;
  readonly attempts: number | undefined;
  readonly firstFailureAt: Date | undefined;
  readonly lastFailureAt: Date | undefined;
  /** Where the original record was, in the adapter's notation. */
  readonly originalPosition: string | undefined;
  /** What was cut to make the dead letter fit the broker (`body`, `headers`), if anything. */
  readonly reduced: readonly string[];
}

/**
 * A dead letter as the operator shows it: the stored record, its failure metadata and, when it
 * could be decoded, its envelope.
 *
 * @example
 * ```ts
 * for await (const letter of operator.browse({ topic: 'order.placed', group: 'billing' })) {
 *   console.log(letter.id, letter.envelope?.type, letter.failure.reason);
 * }
 * ```
 */
export interface DeadLetter {
  /** The adapter's id of it in the store: pass it in `DeadLetterSelection.ids`. */
  readonly id: string;
  readonly topic: string;
  readonly group: string;
  /** The dead-letter topic it is stored in. */
  readonly deadLetterTopic: string;
  readonly key: string | undefined;
  readonly headers: RecordHeaders;
  readonly body: Uint8Array;
  readonly failure: DeadLetterFailure;
  /**
   * The envelope, its data decoded by the codec and upcast by the contract when one of the
   * operator's `events` has its type; `undefined` when the record is not a readable envelope.
   */
  readonly envelope: Envelope | undefined;
  /** Why the envelope could not be read, when it could not. */
  readonly decodeError: Error | undefined;
}

/**
 * Options of {@link Operator.browse} and {@link Operator.page}.
 *
 * @example
 * ```ts
 * const options: BrowseOptions = { pageSize: 500 };
 * ```
 */
export interface BrowseOptions {
  /** How many stored dead letters to read from the broker at a time. Default 100. */
  readonly pageSize?: number;
  /** Stops the browsing: the iteration ends, a page resolves with what it read. */
  readonly signal?: AbortSignal;
}

/**
 * One page of dead letters from {@link Operator.page}.
 *
 * @example
 * ```ts
 * let page: DeadLetterListPage | undefined;
 * do {
 *   page = await operator.page(selection, { cursor: page?.cursor, limit: 50 });
 *   show(page.letters);
 * } while (page.cursor !== undefined);
 * ```
 */
export interface DeadLetterListPage {
  readonly letters: readonly DeadLetter[];
  /** Pass it as `cursor` to read on; `undefined` when no dead letter is left after this page. */
  readonly cursor: string | undefined;
}

/**
 * Options of {@link Operator.redrive}.
 *
 * @example
 * ```ts
 * const options: RedriveOptions = { ratePerSecond: 200, signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface RedriveOptions {
  /** Most dead letters redriven per second. Default 500. */
  readonly ratePerSecond?: number;
  /** Most dead letters asked of the broker in one call. Default 100 (and never above the rate). */
  readonly batchSize?: number;
  /**
   * Stops the redrive between two batches: what the broker confirmed is redriven and removed,
   * the rest stays stored; run the redrive again to go on.
   */
  readonly signal?: AbortSignal;
  /** Called after each batch the broker answered, with the counts so far (for progress bars). */
  readonly onProgress?: (progress: RedriveProgress) => void;
}

/**
 * The counts of a redrive so far, as {@link RedriveOptions.onProgress} receives them.
 *
 * @example
 * ```ts
 * const onProgress = (p: RedriveProgress) => console.log(`${p.redriven + p.missing + p.refused} done`);
 * ```
 */
export interface RedriveProgress {
  readonly redriven: number;
  readonly missing: number;
  readonly refused: number;
}

/**
 * Options of {@link Operator.purge}.
 *
 * @example
 * ```ts
 * const options: PurgeOptions = { onProgress: (deleted) => console.log(`${deleted} deleted`) };
 * ```
 */
export interface PurgeOptions {
  /** How many stored dead letters to read from the broker at a time. Default 100. */
  readonly pageSize?: number;
  /** Stops the purge between two pages; what was deleted stays deleted. */
  readonly signal?: AbortSignal;
  /** Called after each page the broker answered, with how many were deleted so far. */
  readonly onProgress?: (deleted: number) => void;
}

/**
 * What a redrive did.
 *
 * @example
 * ```ts
 * const report: RedriveReport = await operator.redrive({ topic: 'order.placed', group: 'billing' });
 * if (report.refused.length > 0) console.warn(report.refused);
 * ```
 */
export interface RedriveReport {
  /** Delivered again to the failed group and removed from the store. */
  readonly redriven: number;
  /** Named by the selection's `ids` or listed, but gone by the time they were asked for. */
  readonly missing: number;
  /** Left in the store, each with the broker's reason. */
  readonly refused: readonly { readonly id: string; readonly reason: string }[];
  /** The signal stopped it before it went through every selected dead letter. */
  readonly aborted: boolean;
}

/**
 * A record as {@link Operator.decode} reads it: what an adapter delivered or stored.
 *
 * @example
 * ```ts
 * const record: RecordToDecode = { topic: 'order.placed', key: 'o-1', headers: incoming.headers, body: incoming.body };
 * ```
 */
export interface RecordToDecode {
  readonly topic: string;
  readonly key: string | undefined;
  readonly headers: RecordHeaders;
  readonly body: Uint8Array;
}

/**
 * What {@link Operator.decode} made of a record: its envelope, or why there is none.
 *
 * @example
 * ```ts
 * const { envelope, decodeError } = operator.decode(record);
 * console.log(envelope?.type ?? `unreadable: ${decodeError?.message}`);
 * ```
 */
export interface DecodedRecord {
  /** The envelope, its data decoded and upcast as in {@link DeadLetter.envelope}. */
  readonly envelope: Envelope | undefined;
  readonly decodeError: Error | undefined;
}

/** The start of the name of every group {@link Operator.follow} makes: tools can tell them apart. */
export const FOLLOW_GROUP_PREFIX = 'tidings-tail-';

/**
 * A record {@link Operator.follow} received: the record, and its envelope as {@link Operator.decode}
 * reads it.
 *
 * @example
 * ```ts
 * const onRecord = ({ record, envelope }: FollowedRecord) => console.log(record.position, envelope?.type);
 * ```
 */
export interface FollowedRecord extends DecodedRecord {
  readonly record: IncomingRecord;
}

/**
 * Options of {@link Operator.follow}.
 *
 * @example
 * ```ts
 * const options: FollowOptions = { label: 'ops-laptop' };
 * ```
 */
export interface FollowOptions {
  /** Put in the temporary group's name after {@link FOLLOW_GROUP_PREFIX}, to tell whose it is. */
  readonly label?: string;
}

/**
 * A topic being followed; {@link Following.stop} ends it.
 *
 * @example
 * ```ts
 * const following = await operator.follow('order.placed', ({ envelope }) => console.log(envelope?.data));
 * await following.stop();
 * ```
 */
export interface Following {
  /** The temporary consumer group that reads the topic. */
  readonly group: string;
  /**
   * Closes the subscription and deletes its group where the adapter can; resolves with `true` when
   * the group is gone, or the reason it is left on the broker. Idempotent.
   */
  stop(): Promise<true | string>;
}

/**
 * Operations on a broker's dead letters and history, over an adapter that can do them.
 *
 * @example
 * ```ts
 * const operator = createOperator({ adapter, events: [OrderPlaced] });
 * const report = await operator.redrive({ topic: 'order.placed', group: 'billing', type: 'order.placed' });
 * ```
 */
export interface Operator {
  /** What the adapter declares it can do (`true`, or the reason it cannot). */
  readonly supports: {
    readonly deadLetters: true | string;
    readonly replay: true | string;
    /** Listing and deleting consumer groups (the adapter implements `GroupAdmin`). */
    readonly groups: true | string;
  };
  /**
   * Lists the selected dead letters in store order without consuming them. Rejects (on the first
   * step) with a `CapabilityUnavailableError` when the adapter keeps no browsable store.
   */
  browse(selection: DeadLetterSelection, options?: BrowseOptions): AsyncIterable<DeadLetter>;
  /** One page of {@link browse}, up to `limit` (default 100) dead letters after `cursor`. */
  page(
    selection: DeadLetterSelection,
    options?: BrowseOptions & { readonly cursor?: string | undefined; readonly limit?: number },
  ): Promise<DeadLetterListPage>;
  /** One dead letter by id; rejects with a `DeadLetterNotFoundError` when it is not stored. */
  deadLetter(at: Pick<DeadLetterSelection, 'topic' | 'group'>, id: string): Promise<DeadLetter>;
  /**
   * Delivers the selected dead letters again to their failed group only, at a bounded rate, each
   * removed from the store once the broker confirmed its redelivery. Stopped (signal) or
   * interrupted (crash) and run again, it goes on with what is still stored: nothing is lost, and
   * a dead letter is delivered twice at most when a crash fell between its redelivery and its
   * removal (the idempotency policy makes that safe).
   */
  redrive(selection: DeadLetterSelection, options?: RedriveOptions): Promise<RedriveReport>;
  /** Deletes the selected dead letters; resolves with how many were deleted. */
  purge(selection: DeadLetterSelection, options?: PurgeOptions): Promise<number>;
  /**
   * Delivers `topic`'s retained history again to `group` only, from a time or a position
   * (inclusive); other groups are not touched. Rejects with a `CapabilityUnavailableError` when
   * the adapter cannot, a `ConfigError` when the group does not consume the topic.
   */
  replay(topic: string, group: string, from: ReplayFrom): Promise<void>;
  /**
   * Reads a record's envelope the way dead letters are shown (the operator's codecs, upcast by
   * its contracts), for tools that show live records (`tidings tail`). Never throws: an unreadable
   * record has `decodeError`.
   */
  decode(record: RecordToDecode): DecodedRecord;
  /**
   * Follows a topic live: a consumer group of its own (named {@link FOLLOW_GROUP_PREFIX}…) from the
   * latest record, one record at a time, each acknowledged once `onRecord` returned, so that the
   * application's groups are not touched (`tidings tail`, the console's tail). Resolves once the
   * subscription is registered: what is published afterwards reaches `onRecord`.
   */
  follow(
    topic: string,
    onRecord: (followed: FollowedRecord) => void | Promise<void>,
    options?: FollowOptions,
  ): Promise<Following>;
  /**
   * The consumer groups of `topics` with their lag, pending records, members and state, in topic
   * order then group name order. Rejects with a `CapabilityUnavailableError` when the adapter
   * cannot list groups.
   */
  groups(topics: readonly string[]): Promise<readonly GroupDescription[]>;
  /**
   * Removes a consumer group's state on `topic` (its position and pending records); resolves with
   * whether there was such a group. Rejects with a `ConfigError` naming `group` while it still has
   * members, where the broker refuses that.
   */
  deleteGroup(topic: string, group: string): Promise<boolean>;
}
