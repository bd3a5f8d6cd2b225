import {
  type AdapterSubscription,
  type CloseOptions,
  ConfigError,
  ConnectionError,
  type IncomingRecord,
  KeyedDispatcher,
  RETRY_HEADERS,
  type RecordHandler,
  type Settlement,
  type SubscribeSpec,
  type SubscriptionState,
  toError,
  whenAborted,
} from '@tidings/core/adapter';
import type { Redis } from 'ioredis';
import { AckBatcher } from './acks';
import { decodeFields, decodeHeaders, encodeFields, encodeHeaders } from './codec';
import { connectWithin, isBusyGroup, isNoGroup, isReplyError } from './connection';
import { keys } from './keys';
import type { ResolvedOptions } from './options';
import { asArray, asText, type ClaimedEntry, claimedEntries, readEntries } from './replies';
import { claimDue, claimIdle, deadLetter, forgetConsumers, release, scheduleRetry, touch } from './scripts';

/** What a subscription needs from its adapter. */
export interface SubscriptionContext {
  readonly spec: SubscribeSpec;
  readonly handler: RecordHandler;
  readonly options: ResolvedOptions;
  /** The adapter's command connection, shared by its subscriptions. */
  readonly command: Redis;
  /** A new connection for this subscription's blocking reads, not connected yet. */
  readonly reader: Redis;
  /** This member's consumer name in the group, unique to this subscription. */
  readonly consumer: string;
  readonly claimIdleMs: number;
  readonly onClosed: (subscription: StreamSubscription) => void;
}

/** An entry this member holds: delivered to it and not settled yet. */
interface Delivery {
  readonly stream: string;
  readonly id: string;
  readonly record: IncomingRecord;
  /** Headers earlier retries added, kept beside the pending entry. */
  readonly retryHeaders: Readonly<Record<string, string>> | undefined;
  /** Set when a close gave up waiting for the handler: the entry is left to the next member. */
  abandoned: boolean;
}

type Phase = 'starting' | 'running' | 'closing' | 'closed';

// Members that died leave consumers behind; they are removed once idle this long with nothing pending.
const STALE_CONSUMER_MS = 60 * 60 * 1000;
// A released entry looks this idle, so the next member's recovery claims it at once.
const RELEASED_IDLE_MS = 24 * 60 * 60 * 1000;
// Best-effort clean-up calls made while closing give up after this long.
const CLOSE_STEP_MS = 2_000;

/**
 * One member of a consumer group on one or more streams. A blocking `XREADGROUP` on a connection
 * of its own fetches new entries while the dispatcher has room; timers claim what other members
 * left behind, bring back retries that are due and keep this member's own entries fresh.
 */
export class StreamSubscription implements AdapterSubscription {
  private phase: Phase = 'starting';
  private paused = false;
  private error: Error | undefined;
  private readonly group: string;
  private readonly streams: readonly string[];
  private readonly dueKeys: readonly string[];
  private readonly retryHeaderKeys: readonly string[];
  private readonly dispatcher: KeyedDispatcher<Delivery>;
  private readonly acks: AckBatcher;
  private readonly held = new Map<string, Delivery>();
  /** Entries that arrived while paused or closing, not handed to the dispatcher. */
  private parked: Delivery[] = [];
  private readerId: number | undefined;
  private reading: Promise<void> | undefined;
  private wakeReader: (() => void) | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private dueTimer: NodeJS.Timeout | undefined;
  private dueTimerAt = Number.POSITIVE_INFINITY;
  private readonly busy = new Set<string>();
  private cursors: string[];
  private recoveries = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly context: SubscriptionContext) {
    const { spec } = context;
    this.group = spec.group;
    this.streams = [...spec.topics];
    this.dueKeys = this.streams.map((stream) => keys.due(stream, this.group));
    this.retryHeaderKeys = this.streams.map((stream) => keys.retryHeaders(stream, this.group));
    this.cursors = this.streams.map(() => '-');
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
    return this.paused ? 'paused' : 'running';
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /** Creates the group on every stream, connects the reader and starts the loops. */
  async start(): Promise<void> {
    try {
      await this.createGroups();
      await connectWithin(this.context.reader, this.context.options.connectTimeoutMs, 'stream reader');
      this.context.reader.on('ready', () => void this.learnReaderId());
      await this.learnReaderId();
    } catch (error) {
      this.phase = 'closed';
      this.context.reader.disconnect();
      throw error;
    }
    this.phase = 'running';
    this.reading = this.readLoop();
    this.startTimers();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.phase !== 'running') return;
    const parked = this.parked;
    this.parked = [];
    for (const delivery of parked) this.dispatcher.push(delivery);
    this.wakeReader?.();
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
      if (this.paused) {
        await new Promise<void>((resolve) => {
          this.wakeReader = resolve;
        });
        continue;
      }
      await this.dispatcher.whenRoom();
      if (this.phase !== 'running') break;
      // COUNT applies per stream: share the room out so one read cannot fetch much beyond it.
      const count = Math.max(1, Math.ceil(this.dispatcher.room / this.streams.length));
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
          ...this.streams,
          ...this.streams.map(() => '>'),
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
      try {
        for (const entry of readEntries(reply)) {
          if (entry.fields === null) continue;
          this.accept(entry.stream, entry.id, entry.fields, 1, undefined);
        }
      } catch (error) {
        // Unreadable reply: what it held stays pending and is claimed again later.
        this.noteError(error);
      }
    }
  }

  private async learnReaderId(): Promise<void> {
    try {
      this.readerId = Number(await this.context.reader.client('ID'));
    } catch (error) {
      this.noteError(error);
    }
  }

  /** Turns an entry into a record and hands it on (or parks it while paused or closing). */
  private accept(
    stream: string,
    id: string,
    fields: readonly Buffer[],
    deliveries: number,
    retryHeadersJson: string | undefined,
  ): void {
    const heldKey = `${stream}\n${id}`;
    // Our own entry, claimed back while we still hold it (a stall let it go idle): keep one copy.
    if (this.held.has(heldKey)) return;
    const content = decodeFields(fields);
    const retryHeaders = decodeHeaders(retryHeadersJson);
    const headers = retryHeaders === undefined ? content.headers : { ...content.headers, ...retryHeaders };
    const delivery: Delivery = {
      stream,
      id,
      record: {
        topic: stream,
        key: content.key,
        headers,
        body: content.body,
        // The delivery count, unless the record says more (it was re-published with its count).
        attempt: Math.max(deliveries, attemptHeader(headers)),
        position: id,
      },
      retryHeaders,
      abandoned: false,
    };
    this.held.set(heldKey, delivery);
    if (this.paused || this.phase !== 'running') this.parked.push(delivery);
    else this.dispatcher.push(delivery);
  }

  private acceptClaimed(entries: readonly ClaimedEntry[]): void {
    for (const entry of entries) {
      const stream = this.streams[entry.streamIndex];
      if (stream === undefined) continue;
      this.accept(stream, entry.id, entry.fields, entry.deliveries, entry.retryHeaders);
    }
  }

  // ---- handling and settling ----------------------------------------------------------------

  private async process(delivery: Delivery): Promise<void> {
    let settlement: Settlement;
    try {
      settlement = await this.context.handler(delivery.record);
    } catch {
      // The core never rejects; if it does, the contract says: retry at once.
      settlement = {
        type: 'retry',
        delayMs: 0,
        headers: { [RETRY_HEADERS.attempt]: String(delivery.record.attempt + 1) },
      };
    }
    if (delivery.abandoned) return;
    try {
      await this.settle(delivery, settlement);
    } catch (error) {
      // Not settled: the entry stays pending and comes back through recovery.
      this.noteError(error);
    } finally {
      this.held.delete(`${delivery.stream}\n${delivery.id}`);
    }
  }

  private async settle(delivery: Delivery, settlement: Settlement): Promise<void> {
    const { command } = this.context;
    const { stream, id, record } = delivery;
    switch (settlement.type) {
      case 'ack':
        await this.acks.ack(stream, id, delivery.retryHeaders !== undefined);
        return;
      case 'retry': {
        const headers = { ...delivery.retryHeaders, ...settlement.headers };
        const delayMs = Math.max(0, Math.ceil(settlement.delayMs));
        await scheduleRetry.run(
          command,
          [keys.due(stream, this.group), keys.retryHeaders(stream, this.group)],
          [id, delayMs, encodeHeaders(headers)],
        );
        this.wakeForDue(delayMs);
        return;
      }
      case 'deadLetter': {
        const fields = encodeFields({
          key: record.key,
          headers: { ...record.headers, ...settlement.headers },
          body: record.body,
        });
        await deadLetter.run(
          command,
          [stream, settlement.topic, keys.retryHeaders(stream, this.group), keys.due(stream, this.group)],
          [this.group, id, ...fields],
        );
        return;
      }
    }
  }

  // ---- timers: retries that are due, recovery of idle entries, keeping ours fresh --------------

  private startTimers(): void {
    const { claimIdleMs } = this.context;
    const every = (ms: number, task: () => Promise<void>, name: string): void => {
      const timer = setInterval(() => void this.once(name, task), ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.context.options.retryPollIntervalMs, () => this.moveDue(), 'due');
    every(clamp(claimIdleMs / 2, 250, 30_000), () => this.recover(), 'recover');
    every(clamp(claimIdleMs / 3, 100, 10_000), () => this.refresh(), 'refresh');
    void this.once('recover', () => this.recover());
    void this.once('due', () => this.moveDue());
  }

  /** Runs a periodic task unless it is still running from the last tick. */
  private async once(name: string, task: () => Promise<void>): Promise<void> {
    if (this.busy.has(name) || this.phase !== 'running') return;
    this.busy.add(name);
    try {
      await task();
    } catch (error) {
      this.noteError(error);
    } finally {
      this.busy.delete(name);
    }
  }

  /** Brings back this group's retries that are due, on this member. */
  private async moveDue(): Promise<void> {
    for (;;) {
      const budget = this.dispatcher.room;
      if (budget === 0 || this.paused) return;
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

  /** Calls {@link moveDue} again when a retry this member scheduled becomes due. */
  private wakeForDue(delayMs: number): void {
    // A few ms late rather than early: the server's clock decides what is due.
    const at = Date.now() + delayMs + 5;
    if (at >= this.dueTimerAt || this.phase !== 'running') return;
    clearTimeout(this.dueTimer);
    this.dueTimerAt = at;
    this.dueTimer = setTimeout(() => {
      this.dueTimerAt = Number.POSITIVE_INFINITY;
      // If the task is busy right now, the next poll picks the retry up.
      void this.once('due', () => this.moveDue());
    }, at - Date.now());
    this.dueTimer.unref();
  }

  /** Claims entries that other (dead) members left pending longer than the idle limit. */
  private async recover(): Promise<void> {
    const budget = this.dispatcher.room;
    if (budget > 0 && !this.paused) {
      const reply = asArray(
        await claimIdle.run(this.context.command, this.streamKeyTriples(), [
          this.group,
          this.context.consumer,
          this.context.claimIdleMs,
          budget,
          ...this.cursors,
        ]),
        'claim-idle reply',
      );
      this.cursors = asArray(reply[0], 'cursors').map((cursor) => asText(cursor, 'cursor'));
      this.acceptClaimed(claimedEntries(reply[1]));
    }
    if (++this.recoveries % 100 === 1) {
      await forgetConsumers.run(this.context.command, this.streams, [
        this.group,
        this.context.consumer,
        STALE_CONSUMER_MS,
      ]);
    }
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

  private streamKeyTriples(): string[] {
    return this.streams.flatMap((stream, i) => [stream, this.dueKeys[i]!, this.retryHeaderKeys[i]!]);
  }

  /** The "per stream: count, ids..." argument layout of the touch and release scripts. */
  private idLists(deliveries: readonly Delivery[]): string[] {
    const args: string[] = [];
    for (const stream of this.streams) {
      const ids = deliveries.filter((d) => d.stream === stream).map((d) => d.id);
      args.push(String(ids.length), ...ids);
    }
    return args;
  }

  // ---- groups, errors, close ----------------------------------------------------------------

  private async createGroups(): Promise<void> {
    const start = this.context.spec.startFrom === 'earliest' ? '0' : '$';
    for (const stream of this.streams) {
      try {
        await this.context.command.callBuffer('xgroup', 'CREATE', stream, this.group, start, 'MKSTREAM');
      } catch (error) {
        if (isBusyGroup(error)) continue;
        if (isReplyError(error) && (error as Error).message.startsWith('WRONGTYPE')) {
          throw new ConfigError('topics', `"${stream}" is a Redis key that is not a stream`, {
            cause: error,
          });
        }
        throw isReplyError(error)
          ? error
          : new ConnectionError(
              `cannot create group "${this.group}" on "${stream}": ${toError(error).message}`,
              {
                cause: error,
              },
            );
      }
    }
  }

  /** Records an error for health reports (`lastError`). */
  noteError(error: unknown): void {
    this.error = toError(error);
  }

  private async shutdown(signal: AbortSignal | undefined): Promise<void> {
    const wasRunning = this.phase === 'running';
    this.phase = 'closing';
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.dueTimer);
    this.wakeReader?.();
    if (wasRunning) await this.stopReading();

    // Entries fetched but never handed to a handler go back to the group at once.
    const unstarted = [...this.parked, ...this.dispatcher.drainQueued()];
    this.parked = [];
    for (const delivery of unstarted) this.held.delete(`${delivery.stream}\n${delivery.id}`);
    if (unstarted.length > 0) {
      await this.bestEffort(
        release.run(this.context.command, this.streams, [
          this.group,
          this.context.consumer,
          RELEASED_IDLE_MS,
          ...this.idLists(unstarted),
        ]),
      );
    }

    const idle = this.dispatcher.idle();
    await (signal === undefined ? idle : Promise.race([idle, whenAborted(signal)]));
    // Handlers still running are left: their entries stay pending for the group's next member.
    for (const delivery of this.held.values()) delivery.abandoned = true;
    this.held.clear();

    if (wasRunning) {
      await this.bestEffort(
        forgetConsumers.run(this.context.command, this.streams, [this.group, this.context.consumer, '-']),
      );
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

function attemptHeader(headers: Readonly<Record<string, string>>): number {
  const value = Number(headers[RETRY_HEADERS.attempt]);
  return Number.isInteger(value) && value > 0 ? value : 0;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(value)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
