import {
  type AdapterSubscription,
  attemptOf,
  ClosedError,
  type CloseOptions,
  ConfigError,
  type ConsumerLag,
  type ConsumerLagReporter,
  type IncomingRecord,
  isSettlement,
  KeyedDispatcher,
  RETRY_HEADERS,
  RETRY_NOW,
  type RecordHandler,
  type RetrySettlement,
  type Settlement,
  type SettlementObserver,
  type SubscribeSpec,
  type SubscriptionState,
  settlementHeaders,
  type TopicRule,
  topicProblem,
  whenAborted,
} from '@tidings/core/adapter';
import type { Redis } from 'ioredis';
import { AckBatcher } from './acks';
import { decodeFields, decodeHeaders, encodeHeaders } from './codec';
import {
  connectionFailure,
  connectWithin,
  failureKind,
  isBusyGroup,
  isNoGroup,
  isReplyError,
  isWrongType,
} from './connection';
import { writeDeadLetter } from './dead-letters';
import { keys } from './keys';
import { StreamLease } from './lease';
import type { ResolvedOptions } from './options';
import {
  asArray,
  asInteger,
  asText,
  type ClaimedEntry,
  claimedEntries,
  groupInfo,
  readEntries,
} from './replies';
import type { Shards } from './shards';

/** What the subscription needs of an entry to deliver it. */
type EntryData = Pick<ClaimedEntry, 'id' | 'fields' | 'deliveries'> &
  Partial<Pick<ClaimedEntry, 'retryHeaders' | 'dueInMs'>>;

import {
  claimDue,
  claimIdle,
  claimOne,
  countMembers,
  forgetConsumers,
  ownPending,
  release,
  scheduleRetry,
  takeOver,
  touch,
} from './scripts';

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
  readonly command: Redis;
  /** A new connection for this subscription's blocking reads, not connected yet. */
  readonly reader: Redis;
  /** This member's consumer name in the group, unique to this subscription. */
  readonly consumer: string;
  /** How topics are spread over streams. */
  readonly shards: Shards;
  /** The stream a dead letter of `key` goes to, for a dead-letter topic. */
  readonly deadLetterStream: (topic: string, key: string | undefined) => Promise<string>;
  readonly claimIdleMs: number;
  readonly onClosed: (subscription: StreamSubscription) => void;
}

/** An entry this member holds: delivered to it and not settled yet. */
interface Delivery {
  readonly index: number;
  readonly id: string;
  readonly record: IncomingRecord;
  /** Headers earlier retries added, kept beside the pending entry. */
  readonly retryHeaders: Readonly<Record<string, string>> | undefined;
  /** Ordered subscriptions: wait this long, then claim the entry back for its retry. */
  readonly waitMs: number | undefined;
  /** Set when this member gives up on the entry: it is left pending for the group's next member. */
  abandoned: boolean;
}

type Phase = 'starting' | 'running' | 'closing' | 'closed';

// Members that died leave consumers behind; they are removed once idle this long with nothing pending.
const STALE_CONSUMER_MS = 60 * 60 * 1000;
// A released entry looks this idle, so the next member claims it at once.
const RELEASED_IDLE_MS = 24 * 60 * 60 * 1000;
// Best-effort clean-up calls made while closing give up after this long.
const CLOSE_STEP_MS = 2_000;
// Pending entries examined per script call when recovering or taking a stream over.
const PAGE = 100;
// A settlement refused for now (OOM, LOADING, a lost connection on an ordered stream) is tried
// again after 100 ms, doubling up to this.
const MAX_SETTLE_BACKOFF_MS = 5_000;
// A dead letter refused for good (WRONGTYPE, NOPERM) leaves its record to come back after 1 s,
// doubling with each failure up to this: an operator may fix the key, but nothing loops meanwhile.
const MAX_COME_BACK_MS = 60_000;
const MAX_REMEMBERED_REFUSALS = 10_000;

/**
 * One member of a consumer group on one or more streams. A blocking `XREADGROUP` on a connection
 * of its own fetches new entries while the dispatcher has room; timers claim what other members
 * left behind, bring back retries that are due and keep this member's own entries fresh.
 *
 * With `ordering: 'key'` the member reads a stream only while it holds the group's lease on it
 * (see {@link StreamLease}), after taking over, in id order, what the previous holder left
 * pending; a retry then waits in this member, holding back the later records of its key.
 */
export class StreamSubscription implements AdapterSubscription, ConsumerLagReporter {
  private phase: Phase = 'starting';
  private error: Error | undefined;
  private readonly group: string;
  /** Every stream of the subscription: its topics' shards, topic after topic. */
  private readonly streams: readonly string[];
  /** The topic of each stream. */
  private readonly topicOf: readonly string[];
  /** For each topic: the indexes of its streams. */
  private readonly shardsOf: ReadonlyMap<string, readonly number[]>;
  private readonly ordered: boolean;
  private readonly leases: readonly StreamLease[];
  /** Ordered: the stream was taken over and may be read with '>'. */
  private readonly takenOver: boolean[];
  private readonly takeOverCursors: string[];
  private readonly dispatcher: KeyedDispatcher<Delivery>;
  private readonly acks: AckBatcher;
  private readonly held = new Map<string, Delivery>();
  private readerId: number | undefined;
  private reading: Promise<void> | undefined;
  /** Set when the reader reconnected: a read's reply may have been lost on the way. */
  private lookForLostReads = false;
  private readonly nudges = new Set<() => void>();
  private readonly timers: NodeJS.Timeout[] = [];
  private dueTimer: NodeJS.Timeout | undefined;
  private dueTimerAt = Number.POSITIVE_INFINITY;
  /** Unordered: when retries this member scheduled fall due (Date.now() ms, ascending). */
  private readonly localDue: number[] = [];
  /** Unordered: the last look for due retries stopped for want of room. */
  private dueBacklog = false;
  private readonly busy = new Set<string>();
  private readonly again = new Set<string>();
  /** Runs of the timer tasks under way, for the close to wait for. */
  private readonly tasks = new Set<Promise<void>>();
  /** Resolves when the close begins. */
  private readonly stopping = deferred();
  private recoveryCursors: string[];
  private recoveries = 0;
  private closing: Promise<void> | undefined;
  /** Entries whose dead letter Redis refused for good, by held key: how many times in a row. */
  private readonly refusedDeadLetters = new Map<string, number>();

  constructor(private readonly context: SubscriptionContext) {
    const { spec } = context;
    this.group = spec.group;
    const streams = spec.topics.map((topic) => context.shards.streams(topic));
    this.streams = streams.flat();
    this.topicOf = streams.flatMap((list, i) => list.map(() => spec.topics[i]!));
    this.shardsOf = new Map(
      spec.topics.map((topic) => [topic, this.topicOf.flatMap((t, index) => (t === topic ? [index] : []))]),
    );
    this.ordered = spec.ordering === 'key';
    this.leases = this.ordered
      ? this.streams.map(
          (stream) =>
            new StreamLease(context.command, stream, this.group, context.consumer, context.claimIdleMs),
        )
      : [];
    this.takenOver = this.streams.map(() => !this.ordered);
    this.takeOverCursors = this.streams.map(() => '-');
    this.recoveryCursors = this.streams.map(() => '-');
    this.acks = new AckBatcher(context.command, this.group);
    this.dispatcher = new KeyedDispatcher<Delivery>({
      concurrency: spec.concurrency,
      ordering: spec.ordering,
      keyOf: (delivery) => delivery.record.key,
      run: (delivery) => this.process(delivery),
      onError: (error) => this.noteError(error),
    });
  }

  get state(): SubscriptionState {
    if (this.phase === 'closing' || this.phase === 'closed') return 'closed';
    if (this.phase === 'starting') return 'starting';
    if (this.context.reader.status !== 'ready' || this.context.command.status !== 'ready') {
      return 'reconnecting';
    }
    return this.dispatcher.paused ? 'paused' : 'running';
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /** Whether the subscription runs and its reader is cut off from the server (reconnecting). */
  get readerCutOff(): boolean {
    return this.phase === 'running' && this.context.reader.status !== 'ready';
  }

  /**
   * Entries of each topic the group has not settled: those not delivered to it yet (the group's
   * `lag` in `XINFO GROUPS`) plus those delivered and not acknowledged (`pending`, which includes
   * retries waiting for their delay), summed over the topic's shards. Redis cannot tell the lag
   * of a group whose stream lost entries it had not read (an `XDEL`, or a trim by hand past
   * them); such a topic is left out of the report until the group has caught up.
   */
  async lag(): Promise<ConsumerLag[]> {
    const replies = await Promise.all(
      this.streams.map((stream) => this.context.command.xinfo('GROUPS', stream)),
    );
    const totals = new Map<string, number | null>();
    replies.forEach((reply, index) => {
      const topic = this.topicOf[index]!;
      const info = groupInfo(reply, this.group);
      const sum = totals.has(topic) ? totals.get(topic)! : 0;
      // A shard without the group yet has nothing the group owes.
      const owed = info === undefined ? 0 : info.lag === null ? null : info.lag + info.pending;
      totals.set(topic, sum === null || owed === null ? null : sum + owed);
    });
    return [...totals].flatMap(([topic, messages]) => (messages === null ? [] : [{ topic, messages }]));
  }

  /**
   * Records an error for health reports (`lastError`) and returns it: a redacted copy, since
   * ioredis's errors may carry the command that failed with its arguments (an `AUTH` password).
   */
  noteError(error: unknown): Error {
    this.error = this.context.options.redact.error(error);
    return this.error;
  }

  /** Creates the group on every stream, connects the reader and starts the loops. */
  async start(): Promise<void> {
    try {
      await this.createGroups();
      await connectWithin(
        this.context.reader,
        this.context.options.connectTimeoutMs,
        'stream reader',
        this.context.options.redact,
      );
      await this.learnReaderId();
      this.context.reader.on('ready', () => {
        this.lookForLostReads = true;
        this.nudge();
        void this.cutShortResentRead();
      });
      // Closed while starting (the adapter's close saw this subscription): do not start.
      if (this.phase !== 'starting') throw new ClosedError('the subscription was closed while it started');
    } catch (error) {
      this.phase = 'closed';
      this.context.reader.disconnect();
      throw error;
    }
    this.phase = 'running';
    this.reading = this.readLoop();
    this.startTimers();
  }

  /** Starts no more handlers: entries fetched wait in the dispatcher, and nothing more is fetched. */
  pause(): void {
    this.dispatcher.pause();
  }

  resume(): void {
    // Closing pauses the dispatcher for good: what waits in it goes back to the group.
    if (this.phase === 'closing' || this.phase === 'closed') return;
    this.dispatcher.resume();
    this.nudge();
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.signal);
    return this.closing;
  }

  // ---- reading ------------------------------------------------------------------------------

  private async readLoop(): Promise<void> {
    const { reader, consumer, options } = this.context;
    let failures = 0;
    while (this.phase === 'running') {
      // No room while paused. Closing must not wait for room: the handlers holding it may never finish.
      await Promise.race([this.dispatcher.whenRoom(), this.stopping.promise]);
      if (this.phase !== 'running' || this.dispatcher.paused) continue;
      if (this.lookForLostReads) {
        this.lookForLostReads = false;
        await this.recoverLostReads().catch((error: unknown) => this.noteError(error));
        continue;
      }
      const readable = this.streams.filter((_, i) => this.mayRead(i));
      if (readable.length === 0) {
        // Ordered and no lease yet: the lease timer nudges when one is taken.
        await this.nudged(options.blockMs);
        continue;
      }
      // COUNT applies per stream: share the room out so one read cannot fetch much beyond it.
      const count = Math.max(1, Math.ceil(this.dispatcher.room / readable.length));
      let reply: unknown;
      try {
        reply = await reader.callBuffer(
          'xreadgroup',
          'GROUP',
          this.group,
          consumer,
          'COUNT',
          count,
          'BLOCK',
          options.blockMs,
          'STREAMS',
          ...readable,
          ...readable.map(() => '>'),
        );
        failures = 0;
      } catch (error) {
        if (this.phase !== 'running') break;
        this.noteError(error);
        // The group was deleted under us (an operator's XGROUP DESTROY or DEL): make it again.
        if (isNoGroup(error)) await this.createGroups().catch((e: unknown) => this.noteError(e));
        await sleep(Math.min(2_000, 100 * 2 ** failures++));
        continue;
      }
      // After a reconnection the entries of this reply are among our own pending ones, which
      // the next turn picks up in id order with any reply that was lost.
      if (this.lookForLostReads) continue;
      try {
        const late: { index: number; id: string }[] = [];
        for (const entry of readEntries(reply)) {
          const index = this.streams.indexOf(entry.stream);
          if (index < 0 || entry.fields === null) continue;
          // Ordered: a read that returns after the lease ran out gives its entries to the next holder.
          if (!this.mayRead(index)) late.push({ index, id: entry.id });
          else this.accept(index, { ...entry, fields: entry.fields, deliveries: 1 });
        }
        if (late.length > 0) await this.releaseIds(late, true);
      } catch (error) {
        // Unreadable reply: what it held stays pending and is claimed again later.
        this.noteError(error);
      }
    }
  }

  /** Whether this member may read stream `index` with '>' now. */
  private mayRead(index: number): boolean {
    return this.holdsLease(index) && this.takenOver[index]!;
  }

  /** Whether this member may handle entries of stream `index` now (ordered: it holds the lease). */
  private holdsLease(index: number): boolean {
    return !this.ordered || this.leases[index]!.valid;
  }

  private async learnReaderId(): Promise<void> {
    this.readerId = Number(await this.context.reader.client('ID'));
  }

  /**
   * After a reconnection ioredis sends the interrupted read again; it must end at once, so that
   * the reader looks for lost replies before anything newer. The reader's new client id is
   * found by its name: asking the reader itself would queue behind the read.
   */
  private async cutShortResentRead(): Promise<void> {
    try {
      const { command, reader } = this.context;
      const list = asText(await command.callBuffer('client', 'LIST', 'TYPE', 'normal'), 'CLIENT LIST');
      const line = list.split('\n').find((l) => l.includes(` name=${reader.options.connectionName} `));
      const id = line === undefined ? undefined : /^id=(\d+)/.exec(line)?.[1];
      if (id === undefined) return;
      this.readerId = Number(id);
      await command.client('UNBLOCK', this.readerId);
    } catch (error) {
      this.noteError(error);
    }
  }

  /** Resolves at the next {@link nudge} (pause, resume, a lease taken, a reconnection) or after `ms`. */
  private nudged(ms?: number): Promise<void> {
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

  private nudge(): void {
    for (const wake of [...this.nudges]) wake();
  }

  /** Turns an entry into a record and hands it to the dispatcher (where it waits while paused or closing). */
  private accept(index: number, entry: EntryData): void {
    const heldKey = `${index}\n${entry.id}`;
    // Our own entry, claimed back while we still hold it (a stall let it go idle): keep one copy.
    if (this.held.has(heldKey)) return;
    const delivery = this.delivery(index, entry);
    this.held.set(heldKey, delivery);
    this.dispatcher.push(delivery);
  }

  private delivery(index: number, entry: EntryData): Delivery {
    const content = decodeFields(entry.fields);
    const retryHeaders = decodeHeaders(entry.retryHeaders);
    // Prototype-free either way: a header called `constructor` is a header, not Object's.
    const headers =
      retryHeaders === undefined ? content.headers : settlementHeaders(content.headers, retryHeaders);
    return {
      index,
      id: entry.id,
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

  private acceptClaimed(entries: readonly ClaimedEntry[], index?: number): void {
    for (const entry of entries) {
      const at = index ?? entry.streamIndex;
      if (this.streams[at] !== undefined) this.accept(at, entry);
    }
  }

  /** Picks up our own pending entries that no handler has: replies lost when the reader dropped. */
  private async recoverLostReads(): Promise<void> {
    let cursors: (string | false)[] = this.streams.map(() => '-');
    while (cursors.some((cursor) => cursor !== false)) {
      const args: (string | number)[] = [this.group, this.context.consumer, PAGE];
      for (const [i, cursor] of cursors.entries()) {
        const held = [...this.held.values()].filter((d) => d.index === i).map((d) => d.id);
        // A finished stream is asked from its end, which yields nothing.
        args.push(cursor === false ? '+' : cursor, held.length, ...held);
      }
      const reply = asArray(
        await ownPending.run(this.context.command, this.streamKeyTriples(), args),
        'reply',
      );
      cursors = asArray(reply[0], 'cursors').map((c) =>
        c === null || c === false ? false : asText(c, 'cursor'),
      );
      const late: { index: number; id: string }[] = [];
      for (const entry of claimedEntries(reply[1])) {
        if (this.holdsLease(entry.streamIndex)) this.acceptClaimed([entry]);
        else late.push({ index: entry.streamIndex, id: entry.id });
      }
      if (late.length > 0) await this.releaseIds(late, false);
    }
  }

  // ---- handling and settling ----------------------------------------------------------------

  private async process(first: Delivery): Promise<void> {
    if (!this.holdsLease(first.index)) {
      // Ordered, and the lease ran out while the entry waited its turn: it is the next holder's.
      first.abandoned = true;
      this.held.delete(`${first.index}\n${first.id}`);
      await this.releaseIds([first], true).catch((error: unknown) => this.noteError(error));
      return;
    }
    let delivery: Delivery | undefined = first;
    while (delivery !== undefined) {
      if (delivery.waitMs !== undefined) {
        delivery = await this.claimBackWhenDue(delivery);
        if (delivery === undefined) return;
      }
      let settlement = await this.handle(delivery.record);
      if (delivery.abandoned) return;
      if (settlement.type !== 'retry' || !this.ordered) {
        const comeBackMs = await this.settleOrLeave(delivery, settlement);
        if (comeBackMs !== undefined) {
          // A dead letter Redis refused for good: the record stays pending and comes back later,
          // as a retry would (the core decides again then), spaced out more each time.
          settlement = { type: 'retry', delayMs: comeBackMs, headers: {} };
        }
        if (comeBackMs !== undefined && !this.ordered) {
          await this.settle(delivery, settlement).catch((error: unknown) => this.noteError(error));
        }
        if (comeBackMs === undefined || !this.ordered) {
          this.held.delete(`${delivery.index}\n${delivery.id}`);
          // Due retries waited for room: this slot is free once the dispatcher has counted it.
          if (this.dueBacklog) setImmediate(() => void this.once('due', () => this.moveDue()));
          return;
        }
      }
      // Ordered: the retry waits here, holding back the later records of its key; the due time
      // is stored too, so that a member taking the stream over honours it.
      const retry: RetrySettlement = settlement as RetrySettlement;
      const waitMs: number = await this.scheduleRetry(delivery, retry).catch((error: unknown) => {
        this.noteError(error);
        return Math.max(0, Math.ceil(retry.delayMs));
      });
      delivery = { ...delivery, waitMs };
      this.held.set(`${delivery.index}\n${delivery.id}`, delivery);
    }
  }

  private async handle(record: IncomingRecord): Promise<Settlement> {
    try {
      const settlement = await this.context.handler(record);
      return isSettlement(settlement) ? settlement : RETRY_NOW;
    } catch {
      // The core never rejects; if it does, the contract says: deliver it again at once.
      return RETRY_NOW;
    }
  }

  /**
   * Ordered retries: waits out the delay, then claims the entry back (raising its delivery count).
   * Gives the entry up, for the next holder of the stream, if the member closes or loses the lease
   * meanwhile.
   */
  private async claimBackWhenDue(delivery: Delivery): Promise<Delivery | undefined> {
    const heldKey = `${delivery.index}\n${delivery.id}`;
    const deadline = performance.now() + (delivery.waitMs ?? 0);
    while (performance.now() < deadline && this.phase === 'running' && this.holdsLease(delivery.index)) {
      await this.nudged(Math.max(1, Math.ceil(deadline - performance.now())));
    }
    if (this.phase !== 'running' || !this.holdsLease(delivery.index)) {
      this.held.delete(heldKey);
      delivery.abandoned = true;
      await this.releaseIds([delivery], false);
      return undefined;
    }
    let reply: unknown;
    for (let failures = 0; ; failures++) {
      try {
        reply = await claimOne.run(this.context.command, this.keyTriple(delivery.index), [
          this.group,
          this.context.consumer,
          delivery.id,
        ]);
        break;
      } catch (error) {
        // The connection is down: try again while the lease lasts, keeping the key held.
        this.noteError(error);
        if (isReplyError(error) || !this.mayKeepTrying(delivery)) {
          this.held.delete(heldKey);
          return undefined;
        }
      }
      await sleep(Math.min(2_000, 100 * 2 ** failures));
    }
    if (reply === null) {
      // Gone: deleted from the stream, or settled by a member that took it over.
      this.held.delete(heldKey);
      return undefined;
    }
    const [entry] = claimedEntries([reply]);
    const next = this.delivery(delivery.index, { ...entry!, dueInMs: undefined });
    this.held.set(heldKey, next);
    return next;
  }

  /**
   * Applies a settlement. When Redis refuses it, the observer hears of it once
   * (`settlementFailed`, with the redacted error, also kept as `lastError`), and what happens next
   * depends on the refusal (see `failureKind`):
   *
   * - refused for now (`OOM`, `LOADING`, `BUSY`...): tried again, 100 ms then doubling up to 5 s,
   *   while the member holds the entry (not closing, and on an ordered stream, holding its lease);
   * - no answer (the connection): an ordered subscription tries again the same way, so that the
   *   next record of the key does not start while this one is unsettled; an unordered one leaves
   *   the entry pending, and it comes back after `claimIdleMs` (ioredis has already resent it);
   * - refused for good (`WRONGTYPE` on the dead-letter key, `NOPERM`): never tried again as such.
   *   A dead letter resolves to the delay after which its record must come back (1 s, doubling
   *   with each refusal up to 60 s); any other settlement leaves its entry pending.
   *
   * Resolves with that delay, or `undefined` once the settlement is applied or left.
   */
  private async settleOrLeave(delivery: Delivery, settlement: Settlement): Promise<number | undefined> {
    const heldKey = `${delivery.index}\n${delivery.id}`;
    let told = false;
    for (let failures = 0; ; failures++) {
      try {
        await this.settle(delivery, settlement);
        this.refusedDeadLetters.delete(heldKey);
        return undefined;
      } catch (thrown) {
        const error = this.noteError(thrown);
        if (!told) {
          told = true;
          this.tell((observer) => observer.settlementFailed(delivery.record, settlement, error));
        }
        const kind = failureKind(thrown);
        if (kind === 'permanent' || kind === 'too-large') {
          if (settlement.type !== 'deadLetter') return undefined;
          const refusals = (this.refusedDeadLetters.get(heldKey) ?? 0) + 1;
          // Records that went on to another member are never settled here: forget them all at times.
          if (this.refusedDeadLetters.size >= MAX_REMEMBERED_REFUSALS) this.refusedDeadLetters.clear();
          this.refusedDeadLetters.set(heldKey, refusals);
          return Math.min(MAX_COME_BACK_MS, 1_000 * 2 ** (refusals - 1));
        }
        if (kind === 'connection' && !this.ordered) return undefined;
        if (!this.mayKeepTrying(delivery)) return undefined;
      }
      // Woken early by a reconnection or the close.
      await this.nudged(Math.min(MAX_SETTLE_BACKOFF_MS, 100 * 2 ** failures));
    }
  }

  /** Calls the observer, if any; what it throws is ignored (the contract says it does not). */
  private tell(call: (observer: SettlementObserver) => void): void {
    const { observer } = this.context;
    if (observer === undefined) return;
    try {
      call(observer);
    } catch {
      // An observer's failure must not turn into a failed settlement.
    }
  }

  private mayKeepTrying(delivery: Delivery): boolean {
    return this.phase === 'running' && this.holdsLease(delivery.index) && !delivery.abandoned;
  }

  private async settle(delivery: Delivery, settlement: Settlement): Promise<void> {
    const { command } = this.context;
    const { index, id, record } = delivery;
    const stream = this.streams[index]!;
    switch (settlement.type) {
      case 'ack':
        await this.acks.ack(stream, id, delivery.retryHeaders !== undefined);
        return;
      case 'retry': {
        this.wakeForDue(await this.scheduleRetry(delivery, settlement));
        return;
      }
      case 'deadLetter': {
        const problem = topicProblem(this.context.topicRule, settlement.topic);
        if (problem !== undefined) throw new ConfigError('deadLetter.topic', problem);
        const target = await this.context.deadLetterStream(settlement.topic, record.key);
        const letter = await writeDeadLetter(
          command,
          { source: stream, target, group: this.group, id },
          record,
          settlement,
          this.context.options.maxMessageBytes,
        );
        // Only now is it true: Redis stored the dead letter and acknowledged the original.
        this.tell((observer) =>
          observer.deadLettered(record, {
            topic: settlement.topic,
            reason: settlement.reason,
            reduced: letter.reduced,
          }),
        );
        return;
      }
    }
  }

  /** Stores a retry's due time and headers beside the pending entry; returns the delay in ms. */
  private async scheduleRetry(
    delivery: Delivery,
    settlement: Extract<Settlement, { type: 'retry' }>,
  ): Promise<number> {
    const stream = this.streams[delivery.index]!;
    const headers = settlementHeaders(delivery.retryHeaders ?? {}, settlement.headers);
    // The claim that brings the entry back raises its delivery count, which counts this retry:
    // an attempt header kept beside it would count the retry twice (see attemptOf).
    delete headers[RETRY_HEADERS.attempt];
    const delayMs = Math.max(0, Math.ceil(settlement.delayMs));
    await scheduleRetry.run(
      this.context.command,
      [keys.due(stream, this.group), keys.retryHeaders(stream, this.group)],
      [delivery.id, delayMs, encodeHeaders(headers)],
    );
    return delayMs;
  }

  // ---- timers: leases, retries that are due, recovery, keeping our entries fresh -------------

  private startTimers(): void {
    const { claimIdleMs } = this.context;
    const every = (ms: number, name: string, task: () => Promise<void>): void => {
      const timer = setInterval(() => void this.once(name, task), ms);
      timer.unref();
      this.timers.push(timer);
      void this.once(name, task);
    };
    if (this.ordered) {
      every(clamp(claimIdleMs / 3, 50, 10_000), 'leases', () => this.holdLeases());
    } else {
      every(this.context.options.retryPollIntervalMs, 'due', () => this.moveDue());
      every(clamp(claimIdleMs / 2, 250, 30_000), 'recover', () => this.recover());
    }
    every(clamp(claimIdleMs / 3, 100, 10_000), 'refresh', () => this.refresh());
  }

  /**
   * Runs a task unless it is running already; then it runs once more when it finishes, since
   * what asked for it may have come after the running one looked.
   */
  private async once(name: string, task: () => Promise<void>): Promise<void> {
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

  /** Unordered: brings back this group's retries that are due, on this member. */
  private async moveDue(): Promise<void> {
    for (;;) {
      const budget = this.dispatcher.room;
      // No room: the next handler to finish asks again (see process).
      this.dueBacklog = budget === 0;
      if (this.dueBacklog) return;
      const reply = await claimDue.run(this.context.command, this.streamKeyTriples(), [
        this.group,
        this.context.consumer,
        budget,
      ]);
      const entries = claimedEntries(reply);
      this.acceptClaimed(entries);
      if (entries.length < budget) return;
    }
  }

  /** Unordered: runs {@link moveDue} when a retry this member scheduled becomes due. */
  private wakeForDue(delayMs: number): void {
    // A few ms late rather than early: the server's clock decides what is due.
    const at = Date.now() + delayMs + 5;
    let i = this.localDue.length;
    while (i > 0 && this.localDue[i - 1]! > at) i--;
    this.localDue.splice(i, 0, at);
    this.armDueTimer();
  }

  private armDueTimer(): void {
    const next = this.localDue[0];
    if (next === undefined || next >= this.dueTimerAt || this.phase !== 'running') return;
    clearTimeout(this.dueTimer);
    this.dueTimerAt = next;
    this.dueTimer = setTimeout(
      () => {
        this.dueTimerAt = Number.POSITIVE_INFINITY;
        const now = Date.now();
        while (this.localDue.length > 0 && this.localDue[0]! <= now) this.localDue.shift();
        void this.once('due', () => this.moveDue());
        this.armDueTimer();
      },
      Math.max(0, next - Date.now()),
    );
    this.dueTimer.unref();
  }

  /** Unordered: claims entries that other (dead) members left pending longer than the idle limit. */
  private async recover(): Promise<void> {
    const budget = this.dispatcher.room;
    if (budget > 0) {
      const reply = asArray(
        await claimIdle.run(this.context.command, this.streamKeyTriples(), [
          this.group,
          this.context.consumer,
          this.context.claimIdleMs,
          budget,
          PAGE,
          ...this.recoveryCursors,
        ]),
        'claim-idle reply',
      );
      this.recoveryCursors = asArray(reply[0], 'cursors').map((cursor) => asText(cursor, 'cursor'));
      this.acceptClaimed(claimedEntries(reply[1]));
    }
    await this.forgetDeadConsumers();
  }

  private async forgetDeadConsumers(): Promise<void> {
    if (this.recoveries++ % 100 !== 0) return;
    await forgetConsumers.run(this.context.command, this.streams, [
      this.group,
      this.context.consumer,
      STALE_CONSUMER_MS,
    ]);
  }

  /**
   * Ordered: takes and renews the leases, takes streams over, gives up the ones lost. The members
   * of the group share a topic's shards: each holds at most its share (shards / members, rounded
   * up) and gives up what it holds beyond it, so that a member that joins gets some.
   */
  private async holdLeases(): Promise<void> {
    for (const [topic, indexes] of this.shardsOf) {
      let share = indexes.length;
      if (indexes.length > 1) {
        const members = await countMembers.run(
          this.context.command,
          [keys.members(topic, this.group)],
          [this.context.consumer, this.context.claimIdleMs],
        );
        share = Math.ceil(indexes.length / Math.max(1, asInteger(members, 'member count')));
      }
      let held = indexes.filter((index) => this.leases[index]!.valid);
      for (const index of held.slice(share)) await this.giveUpStream(index);
      held = held.slice(0, share);
      for (const index of indexes) {
        if (!held.includes(index) && held.length >= share) continue;
        const change = await this.leases[index]!.hold().catch((error: unknown) => {
          this.noteError(error);
          return undefined;
        });
        if (change === 'taken') {
          this.takenOver[index] = false;
          this.takeOverCursors[index] = '-';
          if (!held.includes(index)) held.push(index);
        } else if (change === 'lost') {
          await this.loseStream(index);
          held = held.filter((i) => i !== index);
          continue;
        }
        if (this.leases[index]!.valid) await this.takeOverStream(index);
      }
    }
    // Entries of ours that no handler holds (a settlement that could not be written) come back
    // through the reader, in id order, before its next read.
    if (this.recoveries % 3 === 0 && this.leases.some((lease) => lease.valid)) {
      this.lookForLostReads = true;
    }
    await this.forgetDeadConsumers();
  }

  /** Ordered: lets another member have a stream: gives back what waits, then the lease. */
  private async giveUpStream(index: number): Promise<void> {
    await this.leases[index]!.drop().catch((error: unknown) => this.noteError(error));
    await this.loseStream(index);
  }

  /**
   * Ordered: claims what other members left pending on a stream just taken, in id order; the
   * stream is read with '>' once nothing of another member is left. Once taken over, the same
   * pass goes on picking up entries other members give up later.
   */
  private async takeOverStream(index: number): Promise<void> {
    for (;;) {
      const reply = asArray(
        await takeOver.run(this.context.command, this.keyTriple(index), [
          this.group,
          this.context.consumer,
          this.context.claimIdleMs,
          PAGE,
          this.takeOverCursors[index]!,
        ]),
        'take-over reply',
      );
      const [cursor, busy, entries] = reply;
      this.acceptClaimed(claimedEntries(entries), index);
      const done = cursor === null || cursor === false;
      this.takeOverCursors[index] = done ? '-' : asText(cursor, 'cursor');
      if (asInteger(busy, 'busy') === 1) return;
      if (done) {
        if (!this.takenOver[index]) {
          this.takenOver[index] = true;
          this.nudge();
        }
        return;
      }
    }
  }

  /** Ordered: the lease on a stream ran out or another member holds it now. */
  private async loseStream(index: number): Promise<void> {
    this.takenOver[index] = false;
    // Entries of the stream not started yet go back; the others keep their place in the queue.
    const queued = this.dispatcher.drainQueued();
    const lost = queued.filter((delivery) => delivery.index === index);
    for (const delivery of queued) if (delivery.index !== index) this.dispatcher.push(delivery);
    for (const delivery of lost) {
      delivery.abandoned = true;
      this.held.delete(`${delivery.index}\n${delivery.id}`);
    }
    // Waiting retries of the stream wake up, see the lease gone and give their entries back.
    this.nudge();
    if (lost.length > 0) await this.releaseIds(lost, true);
  }

  /** Resets the idle time of the entries this member holds, so no other member claims them. */
  private async refresh(): Promise<void> {
    const live = [...this.held.values()].filter((delivery) => !delivery.abandoned);
    if (live.length === 0) return;
    await touch.run(this.context.command, this.streams, [
      this.group,
      this.context.consumer,
      ...this.idLists(live),
    ]);
  }

  /** Gives entries back to the group, claimable at once; `uncount` for ones never handled. */
  private async releaseIds(
    entries: readonly { index: number; id: string }[],
    uncount: boolean,
  ): Promise<void> {
    await release.run(this.context.command, this.streams, [
      this.group,
      this.context.consumer,
      RELEASED_IDLE_MS,
      uncount ? '1' : '0',
      ...this.idLists(entries),
    ]);
  }

  private keyTriple(index: number): string[] {
    const stream = this.streams[index]!;
    return [stream, keys.due(stream, this.group), keys.retryHeaders(stream, this.group)];
  }

  private streamKeyTriples(): string[] {
    return this.streams.flatMap((_, i) => this.keyTriple(i));
  }

  /** The "per stream: count, ids..." argument layout of the touch and release scripts. */
  private idLists(entries: readonly { index: number; id: string }[]): string[] {
    const args: string[] = [];
    for (const index of this.streams.keys()) {
      const ids = entries.filter((entry) => entry.index === index).map((entry) => entry.id);
      args.push(String(ids.length), ...ids);
    }
    return args;
  }

  // ---- groups and close ---------------------------------------------------------------------

  private async createGroups(): Promise<void> {
    const start = this.context.spec.startFrom === 'earliest' ? '0' : '$';
    for (const stream of this.streams) {
      try {
        await this.context.command.callBuffer('xgroup', 'CREATE', stream, this.group, start, 'MKSTREAM');
      } catch (error) {
        if (isBusyGroup(error)) continue;
        const { redact } = this.context.options;
        if (isWrongType(error)) {
          throw new ConfigError('topics', `"${stream}" is a Redis key that is not a stream`, {
            cause: redact.error(error),
          });
        }
        // Refused (NOPERM, OOM) or unanswered: either way the subscription cannot start.
        throw connectionFailure(`cannot create group "${this.group}" on "${stream}"`, error, redact);
      }
    }
  }

  private async shutdown(signal: AbortSignal | undefined): Promise<void> {
    const wasRunning = this.phase === 'running';
    this.phase = 'closing';
    // Nothing starts any more; what a claim brings from now on waits in the dispatcher, and goes back.
    this.dispatcher.pause();
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.dueTimer);
    // Entries fetched but never handed to a handler go back to the group at once. They leave the
    // queue first, so that nothing of their keys starts when the waiting retries give up.
    const unstarted = this.dispatcher.drainQueued();
    // Wakes the reader (if paused or waiting for room) and ordered retries that wait: they give
    // their entries back.
    this.stopping.resolve();
    this.nudge();
    if (wasRunning) await this.stopReading();
    // A claim under way when the close began may still bring entries: they go back too.
    await this.bestEffort(Promise.all([...this.tasks]));
    unstarted.push(...this.dispatcher.drainQueued());
    for (const delivery of unstarted) this.held.delete(`${delivery.index}\n${delivery.id}`);
    if (unstarted.length > 0) await this.bestEffort(this.releaseIds(unstarted, true));

    const idle = this.dispatcher.idle();
    await (signal === undefined ? idle : Promise.race([idle, whenAborted(signal)]));
    // Handlers still running are left: their entries stay pending for the group's next member.
    for (const delivery of this.held.values()) delivery.abandoned = true;
    this.held.clear();

    if (wasRunning) {
      await this.bestEffort(
        forgetConsumers.run(this.context.command, this.streams, [this.group, this.context.consumer, '-']),
      );
      // The next member need not wait for the leases to run out, nor count this one in.
      for (const lease of this.leases) await this.bestEffort(lease.drop());
      if (this.ordered) {
        for (const topic of this.shardsOf.keys()) {
          await this.bestEffort(
            this.context.command.zrem(keys.members(topic, this.group), this.context.consumer),
          );
        }
      }
    }
    this.context.reader.disconnect();
    this.phase = 'closed';
    this.context.onClosed(this);
  }

  /**
   * Ends the blocking read: `CLIENT UNBLOCK` makes it return at once. If the reader is cut off
   * (reconnecting), its read cannot end by itself, so after one block time it is disconnected.
   */
  private async stopReading(): Promise<void> {
    const reading = this.reading;
    if (reading === undefined) return;
    let done = false;
    void reading.finally(() => {
      done = true;
    });
    const deadline = Date.now() + this.context.options.blockMs + 1_000;
    while (!done && Date.now() < deadline) {
      if (this.readerId !== undefined && this.context.command.status === 'ready') {
        await this.context.command.client('UNBLOCK', this.readerId).catch(() => undefined);
      }
      await Promise.race([reading, sleep(50)]);
    }
    if (!done) this.context.reader.disconnect();
    await reading;
  }

  private async bestEffort(step: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`gave up after ${CLOSE_STEP_MS} ms`)), CLOSE_STEP_MS);
    });
    try {
      await Promise.race([step, gaveUp]);
    } catch (error) {
      this.noteError(error);
    } finally {
      clearTimeout(timer);
    }
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(value)));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
