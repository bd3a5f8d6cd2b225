import {
  attemptOf,
  type IncomingRecord,
  KeyedDispatcher,
  RETRY_HEADERS,
  type RecordHandler,
  type SettlementObserver,
  type SubscribeSpec,
  settlementHeaders,
  type TopicRule,
} from '@tidings/core/adapter';
import { AckBatcher } from './acks';
import { decodeFields, decodeHeaders } from './codec';
import type { RedisClient } from './connection';
import { tagOf } from './keys';
import { StreamLease } from './lease';
import type { ResolvedOptions } from './options';
import type { ClaimedEntry } from './replies';
import { release } from './scripts';
import type { Shards } from './shards';

/** What a subscription needs from its adapter. */
export interface SubscriptionContext {
  readonly spec: SubscribeSpec;
  readonly handler: RecordHandler;
  /** Told what became of dead letters, and of settlements that could not be applied. */
  readonly observer: SettlementObserver | undefined;
  readonly options: ResolvedOptions;
  /** The adapter's topic rule, which dead-letter topics must follow too. */
  readonly topicRule: TopicRule;
  /** The adapter's command connection, shared by its subscriptions. */
  readonly command: RedisClient;
  /** A new connection for this subscription's blocking reads, not connected yet. */
  readonly reader: RedisClient;
  /** This member's consumer name in the group, unique to this subscription. */
  readonly consumer: string;
  /** How topics are spread over streams. */
  readonly shards: Shards;
  /** The stream a dead letter of `key` goes to, for a dead-letter topic. */
  readonly deadLetterStream: (topic: string, key: string | undefined) => Promise<string>;
  readonly claimIdleMs: number;
  /** Called once the subscription has closed. */
  readonly onClosed: () => void;
}

/** An entry this member holds: delivered to it and not settled yet. */
export interface Delivery {
  /** The index of its stream in {@link Member.streams}. */
  readonly index: number;
  readonly id: string;
  /** Its key in {@link Member.held}, made once: every settlement looks it up again. */
  readonly heldAs: string;
  readonly record: IncomingRecord;
  /** Headers earlier retries added, kept beside the pending entry. */
  readonly retryHeaders: Readonly<Record<string, string>> | undefined;
  /** Ordered subscriptions: wait this long, then claim the entry back for its retry. */
  readonly waitMs: number | undefined;
  /** Set when this member gives up on the entry: it is left pending for the group's next member. */
  abandoned: boolean;
}

/** What the member needs of an entry to deliver it. */
export type EntryData = Pick<ClaimedEntry, 'id' | 'fields' | 'deliveries'> &
  Partial<Pick<ClaimedEntry, 'retryHeaders' | 'dueInMs'>>;

/** An entry of one of the member's streams, by its stream's index. */
export interface EntryRef {
  readonly index: number;
  readonly id: string;
}

/** Where a subscription is in its life: `start` makes it run, `close` ends it. */
export type Phase = 'starting' | 'running' | 'closing' | 'closed';

// A released entry looks this idle, so the next member claims it at once.
const RELEASED_IDLE_MS = 24 * 60 * 60 * 1000;

/**
 * What the parts of one subscription share: its streams, the entries it holds, the dispatcher they
 * run in, its phase, and the ways the parts wake each other. The parts (reader, recovery,
 * retries, settler, ordered streams) each own the rest of their state.
 */
export class Member {
  phase: Phase = 'starting';
  /** The last error, redacted (see {@link noteError}). */
  error: Error | undefined;
  readonly group: string;
  readonly consumer: string;
  readonly command: RedisClient;
  /** Every stream of the subscription: its topics' shards, topic after topic. */
  readonly streams: readonly string[];
  /** The topic of each stream. */
  readonly topicOf: readonly string[];
  /** For each topic: the indexes of its streams. */
  readonly shardsOf: ReadonlyMap<string, readonly number[]>;
  readonly ordered: boolean;
  /**
   * The member's streams (their indexes) in the groups a script or read may take together: all of
   * them on one server; on a cluster, those of one hash tag (one slot).
   */
  readonly slotGroups: readonly (readonly number[])[];
  /** Ordered: the group's lease on each stream; empty otherwise. */
  readonly leases: readonly StreamLease[];
  /** Ordered: the stream was taken over and may be read with '>'; always true otherwise. */
  readonly takenOver: boolean[];
  /** Entries delivered to this member and not settled, by {@link heldKey}. */
  readonly held = new Map<string, Delivery>();
  readonly dispatcher: KeyedDispatcher<Delivery>;
  /** The acknowledgements of the turn, sent on the command connection or with the next read. */
  readonly acks: AckBatcher;
  /** Set when the reader reconnected: a read's reply may have been lost on the way. */
  lookForLostReads = false;
  /** Resolves when the close begins. */
  readonly stopping = deferred();
  private readonly nudges = new Set<() => void>();
  private readonly busy = new Set<string>();
  private readonly again = new Set<string>();
  /** Runs of the timer tasks under way, for the close to wait for. */
  readonly tasks = new Set<Promise<void>>();

  constructor(
    readonly context: SubscriptionContext,
    run: (delivery: Delivery) => Promise<void>,
  ) {
    const { spec } = context;
    this.group = spec.group;
    this.consumer = context.consumer;
    this.command = context.command;
    const streams = spec.topics.map((topic) => context.shards.streams(topic));
    this.streams = streams.flat();
    this.topicOf = streams.flatMap((list, i) => list.map(() => spec.topics[i]!));
    this.shardsOf = new Map(
      spec.topics.map((topic) => [topic, this.topicOf.flatMap((t, index) => (t === topic ? [index] : []))]),
    );
    this.ordered = spec.ordering === 'key';
    this.slotGroups = context.shards.clustered ? groupByTag(this.streams) : [[...this.streams.keys()]];
    this.leases = this.ordered
      ? this.streams.map(
          (stream) =>
            new StreamLease(
              context.command,
              stream,
              this.group,
              context.consumer,
              context.options.leaseTtlMs,
            ),
        )
      : [];
    this.takenOver = this.streams.map(() => !this.ordered);
    this.acks = new AckBatcher(context.command, this.group, context.shards.keys);
    this.dispatcher = new KeyedDispatcher<Delivery>({
      concurrency: spec.concurrency,
      // Entries read ahead wait here, held (in the PEL, kept fresh by `Recovery.refresh` like
      // those running) until a handler is free; the close gives back those not started.
      prefetch: spec.prefetch,
      ordering: spec.ordering,
      keyOf: (delivery) => delivery.record.key,
      run,
      onError: (error) => this.noteError(error),
    });
  }

  /**
   * Records an error for health reports (`lastError`) and returns it: a redacted copy, since
   * ioredis's errors may carry the command that failed with its arguments (an `AUTH` password).
   */
  noteError(error: unknown): Error {
    this.error = this.context.options.redact.error(error);
    return this.error;
  }

  /** Whether this member may handle entries of stream `index` now (ordered: it holds the lease). */
  holdsLease(index: number): boolean {
    return !this.ordered || this.leases[index]!.valid;
  }

  /** Whether this member may read stream `index` with '>' now. */
  mayRead(index: number): boolean {
    return this.holdsLease(index) && this.takenOver[index]!;
  }

  /** Whether this member still works on `delivery`: running, holding its stream, not given up. */
  mayKeepTrying(delivery: Delivery): boolean {
    return this.phase === 'running' && this.holdsLease(delivery.index) && !delivery.abandoned;
  }

  /** Resolves at the next {@link nudge} (pause, resume, a lease taken, a reconnection) or after `ms`. */
  nudged(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        clearTimeout(timer);
        this.nudges.delete(wake);
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(wake, ms);
      this.nudges.add(wake);
    });
  }

  /** Wakes whatever waits in {@link nudged}. */
  nudge(): void {
    for (const wake of [...this.nudges]) wake();
  }

  /**
   * Runs a timer task unless it is running already; then it runs once more when it finishes, since
   * what asked for it may have come after the running one looked.
   */
  async once(name: string, task: () => Promise<void>): Promise<void> {
    if (this.phase !== 'running') return;
    if (this.busy.has(name)) {
      this.again.add(name);
      return;
    }
    this.busy.add(name);
    const run = task().catch((error: unknown) => {
      this.noteError(error);
    });
    this.tasks.add(run);
    try {
      await run;
    } finally {
      this.busy.delete(name);
      this.tasks.delete(run);
    }
    if (this.again.delete(name)) await this.once(name, task);
  }

  /** Turns an entry into a record and hands it to the dispatcher (where it waits while paused or closing). */
  accept(index: number, entry: EntryData): void {
    const key = heldKey({ index, id: entry.id });
    // Our own entry, claimed back while we still hold it (a stall let it go idle): keep one copy.
    if (this.held.has(key)) return;
    const delivery = this.delivery(index, entry, key);
    this.held.set(key, delivery);
    this.dispatcher.push(delivery);
  }

  /**
   * Stops holding `delivery`, unless a newer delivery of its entry has taken its place: an
   * unordered retry claimed back before its first delivery had finished settling.
   */
  forget(delivery: Delivery): void {
    const key = delivery.heldAs;
    if (this.held.get(key) === delivery) this.held.delete(key);
  }

  /** {@link accept}s entries a claim script returned, of stream `index` or of the stream each names. */
  acceptClaimed(entries: readonly ClaimedEntry[], index?: number): void {
    for (const entry of entries) {
      const at = index ?? entry.streamIndex;
      if (this.streams[at] !== undefined) this.accept(at, entry);
    }
  }

  /** The delivery of an entry of stream `index`: its record, with the attempt by the one rule. */
  delivery(index: number, entry: EntryData, heldAs: string = heldKey({ index, id: entry.id })): Delivery {
    const content = decodeFields(entry.fields);
    const retryHeaders = decodeHeaders(entry.retryHeaders);
    // A retry redelivers this very entry, so its delivery count already counts the retry: an
    // attempt header in the stored retry state (written by a member of an earlier version) would
    // count it twice.
    if (retryHeaders !== undefined) delete retryHeaders[RETRY_HEADERS.attempt];
    // Prototype-free either way: a header called `constructor` is a header, not Object's.
    const headers =
      retryHeaders === undefined ? content.headers : settlementHeaders(content.headers, retryHeaders);
    return {
      index,
      id: entry.id,
      heldAs,
      record: {
        topic: this.topicOf[index]!,
        key: content.key,
        headers,
        body: content.body,
        // A retry redelivers this same entry, so the group's delivery count counts the retries; a
        // header counts only where the record was re-published with one (a redriven dead letter).
        attempt: attemptOf(headers, entry.deliveries),
        position: entry.id,
      },
      retryHeaders,
      waitMs: entry.dueInMs,
      abandoned: false,
    };
  }

  /** Gives entries back to the group, claimable at once; `uncount` for ones never handled. */
  async releaseIds(entries: readonly EntryRef[], uncount: boolean): Promise<void> {
    for (const indexes of this.slotGroups) {
      if (!entries.some((entry) => indexes.includes(entry.index))) continue;
      await release.run(this.command, this.streamsAt(indexes), [
        this.group,
        this.consumer,
        RELEASED_IDLE_MS,
        uncount ? '1' : '0',
        ...this.idLists(entries, indexes),
      ]);
    }
  }

  /** The streams of the given indexes. */
  streamsAt(indexes: readonly number[]): string[] {
    return indexes.map((index) => this.streams[index]!);
  }

  /** The keys the claim scripts take for stream `index`: the stream, its due set and its retry headers. */
  keyTriple(index: number): string[] {
    const stream = this.streams[index]!;
    const { keys } = this.context.shards;
    return [stream, keys.due(stream, this.group), keys.retryHeaders(stream, this.group)];
  }

  /** {@link keyTriple} of the streams of the given indexes (default: all), in order. */
  streamKeyTriples(indexes: readonly number[] = [...this.streams.keys()]): string[] {
    return indexes.flatMap((i) => this.keyTriple(i));
  }

  /**
   * The "per stream: count, ids..." argument layout of the touch and release scripts, for the
   * streams of the given indexes (default: all).
   */
  idLists(entries: readonly EntryRef[], indexes: readonly number[] = [...this.streams.keys()]): string[] {
    const args: string[] = [];
    for (const index of indexes) {
      const ids = entries.filter((entry) => entry.index === index).map((entry) => entry.id);
      args.push(String(ids.length), ...ids);
    }
    return args;
  }
}

/**
 * Claimed entries of a script called with the streams of `indexes`: their stream index, which the
 * script counts among the streams it was given, turned into the member's.
 */
export function inGroup(entries: readonly ClaimedEntry[], indexes: readonly number[]): ClaimedEntry[] {
  return entries.map((entry) => ({ ...entry, streamIndex: indexes[entry.streamIndex] ?? -1 }));
}

// Stream indexes by hash tag, in order of first appearance: each group is one slot.
function groupByTag(streams: readonly string[]): number[][] {
  const groups = new Map<string, number[]>();
  for (const [index, stream] of streams.entries()) {
    const tag = tagOf(stream);
    const group = groups.get(tag) ?? [];
    group.push(index);
    groups.set(tag, group);
  }
  return [...groups.values()];
}

/** The key of an entry in {@link Member.held}. */
export function heldKey(entry: EntryRef): string {
  return `${entry.index}\n${entry.id}`;
}

/** A promise with its resolver. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
