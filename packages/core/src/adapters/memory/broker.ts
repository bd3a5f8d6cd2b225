// The in-process broker: topics with their retained records, one queue per consumer group and
// topic, the members that consume them, and the broker that routes between them. One file over 500
// lines on purpose: these four are one data structure whose parts point at each other (an entry
// knows its holder, a member its queues, a queue its broker); apart, they would import each other.
import { ConfigError, PublishError } from '../../errors';
import { Deque } from '../../internal/deque';
import { definedOnly } from '../../internal/options';
import type {
  IncomingRecord,
  OutgoingRecord,
  RecordHandler,
  RecordHeaders,
  Settlement,
  SettlementObserver,
  StartPosition,
} from '../contract';
import { HandedOverRecord } from '../handed-over';
import { redriveHeaders } from '../kit/redrive';
import { RETRY_NOW, settlementHeaders } from '../kit/settlement';
import type {
  DeadLetterLocation,
  DeadLetterPage,
  RedriveOutcome,
  ReplayFrom,
  StoredDeadLetter,
} from '../operations';
import { TimerHeap } from './timer-heap';

/** Settings of an in-process broker. */
export interface MemoryBrokerOptions {
  /**
   * Records kept per topic for consumer groups that start from `'earliest'`. Older records are
   * forgotten, as a log's retention would; groups that already exist keep their own queue.
   * Default 1,000: enough for a group added while an app runs, while a process with many topics
   * of large events does not hold megabytes per topic (and records die young, cheap for the
   * garbage collector). 0 keeps none.
   */
  readonly retainedRecords?: number;
  /**
   * Most unsettled records one consumer group may hold for one topic. A publisher waits for room
   * beyond it (as a broker's flow control would) and fails after `publishTimeoutMs`. Default 100,000.
   */
  readonly maxQueuedRecords?: number;
  /** How long a publish waits for room in a full group queue before it fails. Default 10,000 ms. */
  readonly publishTimeoutMs?: number;
  /**
   * Dead letters kept per dead-letter topic for browsing, redriving and purging (the operator's
   * store, beside the topic's own retained records). The oldest is forgotten beyond it. Default
   * 10,000.
   */
  readonly retainedDeadLetters?: number;
}

const DEFAULTS = {
  retainedRecords: 1_000,
  maxQueuedRecords: 100_000,
  publishTimeoutMs: 10_000,
  retainedDeadLetters: 10_000,
} satisfies Required<MemoryBrokerOptions>;

/** A stored record: an immutable copy of what was published, with its offset in the topic. */
interface StoredRecord {
  readonly topic: string;
  readonly key: string | undefined;
  readonly headers: RecordHeaders;
  readonly body: Uint8Array;
  readonly offset: number;
  /** When it was stored (Date.now()), for replays from a time. */
  readonly time: number;
}

/** A record queued for one consumer group. */
interface Entry {
  readonly record: StoredRecord;
  /** The group queue it belongs to, for good. */
  readonly queue: GroupQueue;
  deliveries: number;
  /** The member it is delivered to and unsettled with, if any. */
  holder: Member | undefined;
  /** Neighbours in the holder's list of unsettled entries, in delivery order. */
  previousHeld: Entry | undefined;
  nextHeld: Entry | undefined;
}

/** One member of a consumer group: a live subscription of one adapter. */
export interface MemberSpec {
  readonly group: string;
  readonly topics: readonly string[];
  readonly concurrency: number;
  readonly ordering: 'key' | 'none';
  readonly startFrom: StartPosition;
  readonly handler: RecordHandler;
  readonly observer: SettlementObserver | undefined;
}

/** @internal */
export class Topic {
  readonly log: Deque<StoredRecord> = new Deque();
  readonly queues = new Set<GroupQueue>();
  nextOffset = 0;
  constructor(readonly name: string) {}
}

/** The state of one consumer group on one topic. */
/** @internal */
export class GroupQueue {
  ordering: 'key' | 'none';
  /** Work ready to hand out: unkeyed entries, and key tokens (the key's next entry is in `keyed`). */
  readonly ready = new Deque<Entry | string>();
  readonly keyed = new Map<string, Deque<Entry>>();
  /** Keys with an entry in flight or waiting out a retry delay. */
  readonly busyKeys = new Set<string>();
  readonly delayed: TimerHeap<Entry>;
  readonly members: Member[] = [];
  /** Entries accepted and not yet acknowledged or dead-lettered (ready, delayed or in flight). */
  pending = 0;
  private nextMember = 0;

  constructor(
    readonly broker: MemoryBroker,
    readonly group: string,
    readonly topic: Topic,
    ordering: 'key' | 'none',
  ) {
    this.ordering = ordering;
    this.delayed = new TimerHeap((entry) => this.releaseDelayed(entry));
  }

  /** Queues a stored record for this group. */
  enqueue(record: StoredRecord): void {
    this.pending++;
    const entry: Entry = {
      record,
      queue: this,
      deliveries: 0,
      holder: undefined,
      previousHeld: undefined,
      nextHeld: undefined,
    };
    this.makeReady(entry, false);
  }

  private makeReady(entry: Entry, front: boolean): void {
    const key = entry.record.key;
    if (this.ordering === 'key' && key !== undefined) {
      let queue = this.keyed.get(key);
      if (queue === undefined) {
        queue = new Deque(4);
        this.keyed.set(key, queue);
      }
      const idle = queue.length === 0 && !this.busyKeys.has(key);
      if (front) queue.unshift(entry);
      else queue.push(entry);
      if (idle) this.ready.push(key);
    } else if (front) {
      this.ready.unshift(entry);
    } else {
      this.ready.push(entry);
    }
    this.broker.scheduleDispatch(this);
  }

  /** Takes the next deliverable entry, marking its key busy; undefined when nothing is ready. */
  take(): Entry | undefined {
    for (;;) {
      const next = this.ready.shift();
      if (next === undefined) return undefined;
      if (typeof next !== 'string') return next;
      const queue = this.keyed.get(next);
      const entry = queue?.shift();
      if (entry === undefined) continue;
      this.busyKeys.add(next);
      return entry;
    }
  }

  /** Frees a key after its entry settled, putting the key's next entry in line. */
  releaseKey(key: string | undefined): void {
    if (key === undefined || !this.busyKeys.delete(key)) return;
    const queue = this.keyed.get(key);
    if (queue === undefined) return;
    if (queue.length === 0) this.keyed.delete(key);
    else this.ready.push(key);
  }

  retry(entry: Entry, delayMs: number): void {
    // Under key ordering the key stays busy while the entry waits, so later entries of the key
    // cannot overtake it; other keys flow on.
    if (delayMs <= 0) this.releaseDelayed(entry);
    else this.delayed.add(entry, delayMs);
  }

  private releaseDelayed(entry: Entry): void {
    this.giveBack(entry, false);
  }

  /** Puts an entry that a closing member never settled back at the head of the line. */
  requeue(entry: Entry): void {
    this.giveBack(entry, true);
  }

  // An entry whose key is held busy goes back first in its key's line; `urgent` also puts the key
  // first among the keys (a closing member's entries), otherwise it waits its turn (a retry).
  private giveBack(entry: Entry, urgent: boolean): void {
    const key = entry.record.key;
    if (this.ordering === 'key' && key !== undefined && this.busyKeys.delete(key)) {
      let queue = this.keyed.get(key);
      if (queue === undefined) {
        queue = new Deque(4);
        this.keyed.set(key, queue);
      }
      queue.unshift(entry);
      if (urgent) this.ready.unshift(key);
      else this.ready.push(key);
      this.broker.scheduleDispatch(this);
    } else {
      this.makeReady(entry, true);
    }
  }

  done(): void {
    this.pending--;
    // Wake waiting publishers once a tenth of the queue has drained, not on every record.
    if (this.pending === this.broker.resumeBelow) this.broker.notifySpace();
  }

  /** The next member, round robin, that can take one more record. */
  pickMember(): Member | undefined {
    const count = this.members.length;
    for (let i = 0; i < count; i++) {
      const member = this.members[(this.nextMember + i) % count]!;
      if (member.canTake()) {
        this.nextMember = (this.nextMember + i + 1) % count;
        return member;
      }
    }
    return undefined;
  }

  /** Switches the ordering mode while no member is attached, keeping the queued entries' order. */
  reorganize(ordering: 'key' | 'none'): void {
    if (ordering === this.ordering) return;
    const entries: Entry[] = [];
    for (const item of this.ready) {
      if (typeof item !== 'string') entries.push(item);
    }
    for (const queue of this.keyed.values()) entries.push(...queue);
    entries.sort((a, b) => a.record.offset - b.record.offset);
    this.ready.removeWhere(() => true);
    this.keyed.clear();
    this.busyKeys.clear();
    this.ordering = ordering;
    for (const entry of entries) this.makeReady(entry, false);
  }
}

/** A subscription attached to one group queue per topic. */
class Member {
  inFlight = 0;
  paused = false;
  closing = false;
  /**
   * Entries delivered to this member and not yet settled, oldest first: a list through the
   * entries themselves, where a Map of them cost two hash-table updates per delivery.
   */
  private firstHeld: Entry | undefined;
  private lastHeld: Entry | undefined;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    readonly broker: MemoryBroker,
    readonly spec: MemberSpec,
    readonly queues: GroupQueue[],
  ) {}

  canTake(): boolean {
    return !this.paused && !this.closing && this.inFlight < this.spec.concurrency;
  }

  deliver(queue: GroupQueue, entry: Entry): void {
    entry.deliveries++;
    this.inFlight++;
    this.hold(entry);
    const record = entry.record;
    const incoming: IncomingRecord = {
      topic: record.topic,
      key: record.key,
      headers: record.headers,
      body: record.body,
      attempt: entry.deliveries,
      position: `${record.topic}@${record.offset}`,
    };
    let settlement: Promise<Settlement>;
    try {
      settlement = this.spec.handler(incoming);
    } catch {
      settlement = Promise.resolve(RETRY_NOW);
    }
    settlement.then(
      (verdict) => this.settle(queue, entry, verdict, incoming),
      () => this.settle(queue, entry, RETRY_NOW, incoming),
    );
  }

  private hold(entry: Entry): void {
    entry.holder = this;
    entry.previousHeld = this.lastHeld;
    entry.nextHeld = undefined;
    if (this.lastHeld === undefined) this.firstHeld = entry;
    else this.lastHeld.nextHeld = entry;
    this.lastHeld = entry;
  }

  private release(entry: Entry): void {
    const { previousHeld, nextHeld } = entry;
    if (previousHeld === undefined) this.firstHeld = nextHeld;
    else previousHeld.nextHeld = nextHeld;
    if (nextHeld === undefined) this.lastHeld = previousHeld;
    else nextHeld.previousHeld = previousHeld;
    entry.holder = undefined;
    entry.previousHeld = undefined;
    entry.nextHeld = undefined;
  }

  private settle(queue: GroupQueue, entry: Entry, settlement: Settlement, incoming: IncomingRecord): void {
    // An entry given back when the member closed belongs to the queue again; ignore its verdict.
    if (entry.holder !== this) return;
    this.release(entry);
    this.inFlight--;
    switch (settlement.type) {
      case 'ack':
        queue.releaseKey(entry.record.key);
        queue.done();
        break;
      case 'retry':
        queue.retry(entry, settlement.delayMs);
        break;
      case 'deadLetter': {
        const record = entry.record;
        // Fresh headers and a copy of the body (a handler may write into the one it was given).
        this.broker.appendDeadLetter(
          new HandedOverRecord(
            settlement.topic,
            record.key,
            settlementHeaders(record.headers, settlement.headers),
            Buffer.from(record.body),
          ),
        );
        queue.releaseKey(record.key);
        queue.done();
        // The copy is within the broker's limit (the original was) and has no header limit to meet.
        this.spec.observer?.deadLettered(incoming, {
          topic: settlement.topic,
          reason: settlement.reason,
          reduced: [],
        });
        break;
      }
    }
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
    for (const q of this.queues) this.broker.scheduleDispatch(q);
  }

  /** Resolves when nothing is in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Gives every unsettled entry back to its queue, to be delivered again. */
  abandon(): void {
    for (let entry = this.firstHeld; entry !== undefined; entry = this.firstHeld) {
      this.release(entry);
      entry.queue.requeue(entry);
    }
    this.inFlight = 0;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

/** Statistics of one consumer group on one topic, for tests and dashboards. */
export interface MemoryGroupStats {
  readonly group: string;
  readonly topic: string;
  /** Records accepted for the group and not yet acknowledged or dead-lettered. */
  readonly pending: number;
  /** Records waiting out a retry delay. */
  readonly delayed: number;
  /** Attached subscriptions. */
  readonly members: number;
}

/**
 * An in-process message broker: topics with bounded retention, consumer groups whose members
 * share the records, per-key ordering, delayed redelivery and backpressure. Several adapters may
 * share one broker, as several processes share a real one; it lives as long as the process.
 *
 * @example
 * ```ts
 * const broker = createMemoryBroker({ maxQueuedRecords: 10_000 });
 * const api = createBus({ source: 'api', adapter: createMemoryAdapter({ broker }) });
 * const worker = createBus({ source: 'worker', adapter: createMemoryAdapter({ broker }) });
 * ```
 */
export class MemoryBroker {
  readonly options: Required<MemoryBrokerOptions>;
  /** @internal Queue length at which waiting publishers are woken. */
  readonly resumeBelow: number;
  private readonly topics = new Map<string, Topic>();
  /** Dead letters by dead-letter topic, then by offset, in offset order. */
  private readonly deadLetters = new Map<string, Map<number, StoredRecord>>();
  private readonly queues = new Map<string, GroupQueue>();
  private readonly dirty = new Set<GroupQueue>();
  private dispatchScheduled = false;
  private spaceWaiters: (() => void)[] = [];

  constructor(options: MemoryBrokerOptions = {}) {
    const merged = { ...DEFAULTS, ...definedOnly(options) } satisfies Required<MemoryBrokerOptions>;
    for (const field of [
      'retainedRecords',
      'maxQueuedRecords',
      'publishTimeoutMs',
      'retainedDeadLetters',
    ] as const) {
      const value = merged[field];
      if (!Number.isInteger(value) || value < 0) {
        throw new ConfigError(field, `must be a non-negative integer, got ${String(value)}`);
      }
    }
    if (merged.maxQueuedRecords < 1) throw new ConfigError('maxQueuedRecords', 'must be at least 1');
    this.options = merged;
    this.resumeBelow = Math.floor(merged.maxQueuedRecords * 0.9);
  }

  /**
   * Stores records, waiting while a consumer group's queue for the topic is full. Rejects with a
   * `PublishError` when room does not come within `publishTimeoutMs`; records before the one
   * that waited too long are stored.
   */
  publish(records: readonly OutgoingRecord[]): Promise<void> {
    // Without a full queue on the way, every record is stored now and no promise is made (an
    // async function made several per call); the first record that has to wait hands over to the
    // waiting loop.
    try {
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        if (this.fullQueue(record.topic) !== undefined) return this.publishWaiting(records, i);
        this.append(record);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return RESOLVED;
  }

  private async publishWaiting(records: readonly OutgoingRecord[], from: number): Promise<void> {
    let deadline: number | undefined;
    for (let i = from; i < records.length; i++) {
      const record = records[i]!;
      let full = this.fullQueue(record.topic);
      while (full !== undefined) {
        deadline ??= Date.now() + this.options.publishTimeoutMs;
        const left = deadline - Date.now();
        if (left <= 0 || !(await this.waitForSpace(left))) {
          throw new PublishError(
            `memory broker: consumer group "${full.group}" has ${full.pending} unsettled records on topic "${record.topic}" (maxQueuedRecords ${this.options.maxQueuedRecords}) and no room came within ${this.options.publishTimeoutMs} ms`,
            { topic: record.topic },
          );
        }
        full = this.fullQueue(record.topic);
      }
      this.append(record);
    }
  }

  /** Stores one record without waiting for room (dead letters, which must not be refused). */
  append(record: OutgoingRecord): StoredRecord {
    const topic = this.topic(record.topic);
    // A broker keeps its own copy: the publisher may reuse its buffers and header objects. A
    // record handed over is nobody else's, so it is kept as it is.
    const owned = record instanceof HandedOverRecord;
    const stored: StoredRecord = {
      topic: record.topic,
      key: record.key,
      headers: Object.freeze(owned ? record.headers : { ...record.headers }),
      // Buffer.from copies (into Node's pool for small bodies); Buffer#slice would be a view.
      body: owned ? record.body : Buffer.from(record.body),
      offset: topic.nextOffset++,
      time: Date.now(),
    };
    if (this.options.retainedRecords > 0) {
      topic.log.push(stored);
      if (topic.log.length > this.options.retainedRecords) topic.log.shift();
    }
    for (const queue of topic.queues) queue.enqueue(stored);
    return stored;
  }

  /** @internal Stores a dead letter: in its topic like any record, and in the dead-letter store. */
  appendDeadLetter(record: OutgoingRecord): void {
    const stored = this.append(record);
    let letters = this.deadLetters.get(record.topic);
    if (letters === undefined) {
      letters = new Map();
      this.deadLetters.set(record.topic, letters);
    }
    letters.set(stored.offset, stored);
    if (letters.size > this.options.retainedDeadLetters) {
      letters.delete(letters.keys().next().value as number);
    }
  }

  /**
   * Reads up to `limit` stored dead letters of a dead-letter topic after `cursor` (an offset), in
   * store order, without consuming them.
   */
  readDeadLetters(at: DeadLetterLocation, cursor: string | undefined, limit: number): DeadLetterPage {
    const after = cursor === undefined ? -1 : Number(cursor);
    const letters: StoredDeadLetter[] = [];
    // A Map iterates in insertion order, which is offset order here.
    for (const stored of this.deadLetters.get(at.deadLetterTopic)?.values() ?? []) {
      if (stored.offset <= after) continue;
      if (letters.length === limit) return { letters, cursor: letters.at(-1)!.id };
      letters.push({
        id: String(stored.offset),
        key: stored.key,
        headers: stored.headers,
        body: stored.body,
      });
    }
    return { letters, cursor: undefined };
  }

  /**
   * Queues the named dead letters again for `at.group` on `at.topic` only (a record of that
   * group's queue that no other group sees), then forgets them.
   */
  redriveDeadLetters(at: DeadLetterLocation, ids: readonly string[]): RedriveOutcome[] {
    const queue = this.queues.get(queueId(at.group, at.topic));
    const letters = this.deadLetters.get(at.deadLetterTopic);
    return ids.map((id): RedriveOutcome => {
      const stored = letters?.get(Number(id));
      if (stored === undefined) return { id, status: 'missing' };
      if (queue === undefined) {
        return {
          id,
          status: 'refused',
          reason: `consumer group "${at.group}" does not consume topic "${at.topic}" on this broker`,
        };
      }
      const topic = queue.topic;
      queue.enqueue({
        topic: at.topic,
        key: stored.key,
        headers: Object.freeze(redriveHeaders(stored.headers)),
        body: stored.body,
        // An offset of the topic that no other group is given: the record is this group's alone.
        offset: topic.nextOffset++,
        time: Date.now(),
      });
      letters!.delete(stored.offset);
      return { id, status: 'redriven' };
    });
  }

  /** Forgets the named dead letters; returns how many were stored. */
  deleteDeadLetters(at: DeadLetterLocation, ids: readonly string[]): number {
    const letters = this.deadLetters.get(at.deadLetterTopic);
    if (letters === undefined) return 0;
    let deleted = 0;
    for (const id of ids) if (letters.delete(Number(id))) deleted++;
    return deleted;
  }

  /**
   * Queues the topic's retained records from `from` on again for `group` only. Records it still
   * holds pending stay queued too (at-least-once).
   */
  replay(topicName: string, group: string, from: ReplayFrom): void {
    const queue = this.queues.get(queueId(group, topicName));
    if (queue === undefined) {
      throw new ConfigError(
        'group',
        `consumer group "${group}" does not consume topic "${topicName}" on this broker`,
      );
    }
    let first: (record: StoredRecord) => boolean;
    if ('time' in from) {
      const time = from.time.getTime();
      if (Number.isNaN(time)) throw new ConfigError('from.time', 'is not a valid date');
      first = (record) => record.time >= time;
    } else {
      const offset = offsetOf(from.position, topicName);
      first = (record) => record.offset >= offset;
    }
    for (const record of queue.topic.log) if (first(record)) queue.enqueue(record);
  }

  /** Attaches a subscription to its group's queues, creating them (and the group) when new. */
  attach(spec: MemberSpec): Member {
    const queues: GroupQueue[] = [];
    for (const topicName of spec.topics) {
      const id = queueId(spec.group, topicName);
      let queue = this.queues.get(id);
      if (queue === undefined) {
        const topic = this.topic(topicName);
        queue = new GroupQueue(this, spec.group, topic, spec.ordering);
        this.queues.set(id, queue);
        topic.queues.add(queue);
        if (spec.startFrom === 'earliest') {
          for (const record of topic.log) queue.enqueue(record);
        }
      } else if (queue.ordering !== spec.ordering) {
        if (queue.members.length > 0) {
          throw new ConfigError(
            'ordering',
            `consumer group "${spec.group}" already consumes topic "${topicName}" with ordering "${queue.ordering}"; all members of a group must use the same ordering`,
          );
        }
        queue.reorganize(spec.ordering);
      }
      queues.push(queue);
    }
    const member = new Member(this, spec, queues);
    for (const queue of queues) {
      queue.members.push(member);
      queue.delayed.setKeepAlive(true);
      this.scheduleDispatch(queue);
    }
    return member;
  }

  /** Detaches a member; records it never settled go back to its group. */
  detach(member: Member): void {
    member.abandon();
    for (const queue of member.queues) {
      const index = queue.members.indexOf(member);
      if (index !== -1) queue.members.splice(index, 1);
      queue.delayed.setKeepAlive(queue.members.length > 0);
      this.scheduleDispatch(queue);
    }
  }

  /**
   * Forgets a consumer group (on `topic` only, when given): its queued and delayed records are
   * dropped and publishers no longer wait for it. Use it for groups that will not come back.
   * Returns whether the group consumed anything that was forgotten.
   */
  deleteGroup(group: string, topic?: string): boolean {
    let found = false;
    for (const [id, queue] of this.queues) {
      if (queue.group !== group || (topic !== undefined && queue.topic.name !== topic)) continue;
      if (queue.members.length > 0) {
        throw new ConfigError('group', `consumer group "${group}" still has live subscriptions`);
      }
      queue.delayed.stop();
      queue.topic.queues.delete(queue);
      this.queues.delete(id);
      found = true;
    }
    this.notifySpace();
    return found;
  }

  /** Per-group, per-topic statistics. */
  stats(): MemoryGroupStats[] {
    return [...this.queues.values()].map((queue) => ({
      group: queue.group,
      topic: queue.topic.name,
      pending: queue.pending,
      delayed: queue.delayed.length,
      members: queue.members.length,
    }));
  }

  /** @internal Runs dispatch for a queue on the next microtask, batching bursts of publishes. */
  scheduleDispatch(queue: GroupQueue): void {
    this.dirty.add(queue);
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    queueMicrotask(() => this.dispatch());
  }

  /** @internal */
  notifySpace(): void {
    if (this.spaceWaiters.length === 0) return;
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const wake of waiters) wake();
  }

  private dispatch(): void {
    this.dispatchScheduled = false;
    for (const queue of this.dirty) {
      this.dirty.delete(queue);
      for (;;) {
        const member = queue.pickMember();
        if (member === undefined) break;
        const entry = queue.take();
        if (entry === undefined) break;
        member.deliver(queue, entry);
      }
    }
  }

  private fullQueue(topicName: string): GroupQueue | undefined {
    const topic = this.topics.get(topicName);
    if (topic === undefined) return undefined;
    for (const queue of topic.queues) {
      if (queue.pending >= this.options.maxQueuedRecords) return queue;
    }
    return undefined;
  }

  private waitForSpace(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.spaceWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private topic(name: string): Topic {
    let topic = this.topics.get(name);
    if (topic === undefined) {
      topic = new Topic(name);
      this.topics.set(name, topic);
    }
    return topic;
  }
}

export type { Member };

/**
 * Creates an in-process broker to share between adapters (and so between buses) in one process.
 *
 * @example
 * ```ts
 * const broker = createMemoryBroker();
 * const adapter = createMemoryAdapter({ broker });
 * ```
 */
export function createMemoryBroker(options?: MemoryBrokerOptions): MemoryBroker {
  return new MemoryBroker(options);
}

// A position of the memory adapter is `<topic>@<offset>` (see Member.deliver).
function offsetOf(position: string, topic: string): number {
  const at = position.lastIndexOf('@');
  const offset = Number(position.slice(at + 1));
  if (at === -1 || position.slice(0, at) !== topic || !Number.isInteger(offset) || offset < 0) {
    throw new ConfigError(
      'from.position',
      `"${position}" is not a position of topic "${topic}" (<topic>@<offset>)`,
    );
  }
  return offset;
}

function queueId(group: string, topic: string): string {
  return `${group}\u0000${topic}`;
}
