import {
  type AdapterSubscription,
  ClosedError,
  type CloseOptions,
  type ConsumerLag,
  type ConsumerLagReporter,
  type IncomingRecord,
  type RetrySettlement,
  type Settlement,
  type SubscriptionState,
  settlementOf,
  whenAborted,
} from '@tidings/core/adapter';
import { type Delivery, heldKey, Member, type SubscriptionContext } from './member';
import { OrderedStreams } from './ordered';
import { createGroups, StreamReader } from './reader';
import { Recovery } from './recovery';
import { groupInfo } from './replies';
import { DueRetries } from './retries';
import { Settler } from './settle';

// Best-effort clean-up calls made while closing give up after this long.
const CLOSE_STEP_MS = 2_000;

/**
 * One member of a consumer group on one or more streams. A blocking `XREADGROUP` on a connection
 * of its own fetches new entries while the dispatcher has room (`reader.ts`); timers claim what
 * other members left behind (`recovery.ts`), bring back retries that are due (`retries.ts`) and
 * keep this member's own entries fresh; handlers' settlements are applied by `settle.ts`.
 *
 * With `ordering: 'key'` the member reads a stream only while it holds the group's lease on it,
 * after taking over, in id order, what the previous holder left pending (`ordered.ts`); a retry
 * then waits in this member, holding back the later records of its key.
 */
export class StreamSubscription implements AdapterSubscription, ConsumerLagReporter {
  private readonly member: Member;
  private readonly reader: StreamReader;
  private readonly recovery: Recovery;
  private readonly retries: DueRetries;
  private readonly settler: Settler;
  /** Ordered subscriptions only. */
  private readonly orderedStreams: OrderedStreams | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | undefined;
  /** Ordered: the heartbeat's timer, and its run under way. It goes on while the close drains. */
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  /** Unordered: acknowledgements on their way whose handler's slot is free already. */
  private readonly acking = new Set<Promise<void>>();

  constructor(private readonly context: SubscriptionContext) {
    this.member = new Member(context, (delivery) => this.process(delivery));
    this.reader = new StreamReader(this.member);
    this.recovery = new Recovery(this.member);
    this.retries = new DueRetries(this.member);
    this.settler = new Settler(this.member, this.retries);
    this.orderedStreams = this.member.ordered
      ? new OrderedStreams(this.member, this.recovery, () => this.reader.interrupt())
      : undefined;
  }

  get state(): SubscriptionState {
    const { phase } = this.member;
    if (phase === 'closing' || phase === 'closed') return 'closed';
    if (phase === 'starting') return 'starting';
    if (this.context.reader.status !== 'ready' || this.context.command.status !== 'ready') {
      return 'reconnecting';
    }
    return this.member.dispatcher.paused ? 'paused' : 'running';
  }

  get lastError(): Error | undefined {
    return this.member.error;
  }

  /** Whether the subscription runs and its reader is cut off from the server (reconnecting). */
  get readerCutOff(): boolean {
    return this.member.phase === 'running' && this.context.reader.status !== 'ready';
  }

  /**
   * Entries of each topic the group has not settled: those not delivered to it yet (the group's
   * `lag` in `XINFO GROUPS`) plus those delivered and not acknowledged (`pending`, which includes
   * retries waiting for their delay), summed over the topic's shards. Redis cannot tell the lag
   * of a group whose stream lost entries it had not read (an `XDEL`, or a trim by hand past
   * them); such a topic is left out of the report until the group has caught up.
   */
  async lag(): Promise<ConsumerLag[]> {
    const { streams, topicOf, group } = this.member;
    const replies = await Promise.all(streams.map((stream) => this.context.command.xinfo('GROUPS', stream)));
    const totals = new Map<string, number | null>();
    replies.forEach((reply, index) => {
      const topic = topicOf[index]!;
      const info = groupInfo(reply, group);
      const sum = totals.has(topic) ? totals.get(topic)! : 0;
      // A shard without the group yet has nothing the group owes.
      const owed = info === undefined ? 0 : info.lag === null ? null : info.lag + info.pending;
      totals.set(topic, sum === null || owed === null ? null : sum + owed);
    });
    return [...totals].flatMap(([topic, messages]) => (messages === null ? [] : [{ topic, messages }]));
  }

  /** Records an error for health reports (`lastError`), redacted; see {@link Member.noteError}. */
  noteError(error: unknown): Error {
    return this.member.noteError(error);
  }

  /** Creates the group on every stream, connects the reader and starts the loops. */
  async start(): Promise<void> {
    try {
      await createGroups(this.member);
      await this.reader.connect();
      // Closed while starting (the adapter's close saw this subscription): do not start.
      if (this.member.phase !== 'starting') {
        throw new ClosedError('the subscription was closed while it started');
      }
    } catch (error) {
      this.member.phase = 'closed';
      this.context.reader.disconnect();
      throw error;
    }
    this.member.phase = 'running';
    this.reader.run();
    this.startTimers();
  }

  /** Starts no more handlers: entries fetched wait in the dispatcher, and nothing more is fetched. */
  pause(): void {
    this.member.dispatcher.pause();
  }

  resume(): void {
    // Closing pauses the dispatcher for good: what waits in it goes back to the group.
    if (this.member.phase === 'closing' || this.member.phase === 'closed') return;
    this.member.dispatcher.resume();
    this.member.nudge();
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.signal);
    return this.closing;
  }

  // ---- handling ------------------------------------------------------------------------------

  /** Runs one delivery in its dispatcher slot: the handler, then its settlement. */
  private async process(first: Delivery): Promise<void> {
    const { member } = this;
    if (!member.holdsLease(first.index)) {
      // Ordered, and the lease ran out while the entry waited its turn: it is the next holder's.
      first.abandoned = true;
      member.held.delete(heldKey(first));
      await member.releaseIds([first], true).catch((error: unknown) => member.noteError(error));
      return;
    }
    let delivery: Delivery | undefined = first;
    while (delivery !== undefined) {
      if (delivery.waitMs !== undefined) {
        delivery = await this.retries.claimBackWhenDue(delivery);
        if (delivery === undefined) return;
      }
      let settlement = await this.handle(delivery.record);
      if (delivery.abandoned) return;
      if (settlement.type === 'ack' && !member.ordered && this.acking.size < this.context.spec.concurrency) {
        this.ackAfterSlot(delivery, settlement);
        return;
      }
      if (settlement.type !== 'retry' || !member.ordered) {
        // Unordered, a retry is any member's to claim back once Redis has stored it, which can be
        // before this call has read the reply (replies read together): by then the entry must not
        // look held, or the claim would take it for a copy of its own and drop it.
        if (settlement.type === 'retry') member.forget(delivery);
        const comeBackMs = await this.settler.settleOrLeave(delivery, settlement);
        if (comeBackMs !== undefined) {
          // A dead letter Redis refused for good: the record stays pending and comes back later,
          // as a retry would (the core decides again then), spaced out more each time.
          settlement = { type: 'retry', delayMs: comeBackMs, headers: {} };
        }
        if (comeBackMs !== undefined && !member.ordered) {
          member.forget(delivery);
          await this.settler.settle(delivery, settlement).catch((error: unknown) => member.noteError(error));
        }
        if (comeBackMs === undefined || !member.ordered) {
          member.forget(delivery);
          // Due retries waited for room: this slot is free once the dispatcher has counted it.
          if (this.retries.backlog) setImmediate(() => void member.once('due', () => this.retries.moveDue()));
          return;
        }
      }
      // Ordered: the retry waits here, holding back the later records of its key; the due time
      // is stored too, so that a member taking the stream over honours it.
      const retry = settlement as RetrySettlement;
      const waitMs: number = await this.retries.schedule(delivery, retry).catch((error: unknown) => {
        member.noteError(error);
        return Math.max(0, Math.ceil(retry.delayMs));
      });
      delivery = { ...delivery, waitMs };
      member.held.set(heldKey(delivery), delivery);
    }
  }

  /**
   * Unordered: applies an ack without holding the handler's slot, so that the reader fetches the
   * next entries while the `XACK` is on its way instead of one round trip later (the concurrency
   * limit counts handlers, and no later record waits for this one). The entry stays held, and
   * kept fresh, until the ack is applied or left, exactly as when the slot waited; at most
   * `concurrency` acks wait like this, so a server that refuses them for a while (`OOM`) stops
   * the reading again once that many are retrying. The close waits for them.
   */
  private ackAfterSlot(delivery: Delivery, ack: Settlement): void {
    const { member, settler } = this;
    const done = (): void => {
      member.forget(delivery);
      this.acking.delete(acking);
    };
    // An ack that goes through costs one callback; only a refused one takes the retrying path
    // (the async steps of `settleOrLeave` per record were most of the promises of a delivery).
    const sent = settler.sendAck(delivery);
    const acking: Promise<void> = sent.then(done, () =>
      settler
        .settleOrLeave(delivery, ack, sent)
        .then(
          () => undefined,
          (error: unknown) => void member.noteError(error),
        )
        .finally(done),
    );
    this.acking.add(acking);
    if (this.retries.backlog) setImmediate(() => void member.once('due', () => this.retries.moveDue()));
  }

  private handle(record: IncomingRecord): Promise<Settlement> {
    return settlementOf(this.context.handler, record);
  }

  // ---- timers: leases, retries that are due, recovery, keeping our entries fresh -------------

  private startTimers(): void {
    const { claimIdleMs } = this.context;
    const every = (ms: number, name: string, task: () => Promise<void>): void => {
      const timer = setInterval(() => void this.member.once(name, task), ms);
      timer.unref();
      this.timers.push(timer);
      void this.member.once(name, task);
    };
    const ordered = this.orderedStreams;
    if (ordered !== undefined) {
      // The heartbeat runs apart from the take-over work, so a slow take-over never delays a renewal.
      const beat = clamp(this.context.options.leaseTtlMs / 3, 100, 200_000);
      // Not a task of `once`, which stops with the running phase: a close that waits for long
      // handlers keeps the member alive and its leases held until it leaves.
      const heartbeat = (): void => {
        this.beating ??= ordered
          .heartbeat()
          .catch((error: unknown) => void this.member.noteError(error))
          .finally(() => {
            this.beating = undefined;
          });
      };
      this.heartbeatTimer = setInterval(heartbeat, beat);
      this.heartbeatTimer.unref();
      heartbeat();
      every(beat, 'leases', () => ordered.holdLeases());
    } else {
      every(this.context.options.retryPollIntervalMs, 'due', () => this.retries.moveDue());
      every(clamp(claimIdleMs / 2, 250, 30_000), 'recover', () => this.recovery.claimIdle());
    }
    every(clamp(claimIdleMs / 3, 100, 10_000), 'refresh', () => this.recovery.refresh());
  }

  // ---- close ---------------------------------------------------------------------------------

  private async shutdown(signal: AbortSignal | undefined): Promise<void> {
    const { member } = this;
    const wasRunning = member.phase === 'running';
    member.phase = 'closing';
    // Nothing starts any more; what a claim brings from now on waits in the dispatcher, and goes back.
    member.dispatcher.pause();
    for (const timer of this.timers) clearInterval(timer);
    this.retries.stop();
    // Entries fetched but never handed to a handler go back to the group at once. They leave the
    // queue first, so that nothing of their keys starts when the waiting retries give up.
    const unstarted = member.dispatcher.drainQueued();
    // Wakes the reader (if paused or waiting for room) and ordered retries that wait: they give
    // their entries back.
    member.stopping.resolve();
    member.nudge();
    if (wasRunning) await this.reader.stop();
    // A claim under way when the close began may still bring entries: they go back too.
    await this.bestEffort(Promise.all([...member.tasks]));
    unstarted.push(...member.dispatcher.drainQueued());
    for (const delivery of unstarted) member.held.delete(heldKey(delivery));
    if (unstarted.length > 0) await this.bestEffort(member.releaseIds(unstarted, true));

    // Handlers first, then the acks that left their slots (a handler finishing meanwhile adds one).
    const idle = member.dispatcher.idle().then(async () => {
      while (this.acking.size > 0) await Promise.all([...this.acking]);
    });
    await (signal === undefined ? idle : Promise.race([idle, whenAborted(signal)]));
    // Handlers still running are left: their entries stay pending for the group's next member.
    const handlersLeft = member.held.size > 0;
    for (const delivery of member.held.values()) delivery.abandoned = true;
    member.held.clear();

    if (wasRunning) {
      clearInterval(this.heartbeatTimer);
      await this.bestEffort(this.beating ?? Promise.resolve());
      await this.bestEffort(this.recovery.leave());
      await this.orderedStreams?.leave((step) => this.bestEffort(step), handlersLeft);
    }
    this.context.reader.disconnect();
    member.phase = 'closed';
    this.context.onClosed();
  }

  private async bestEffort(step: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`gave up after ${CLOSE_STEP_MS} ms`)), CLOSE_STEP_MS);
    });
    try {
      await Promise.race([step, gaveUp]);
    } catch (error) {
      this.member.noteError(error);
    } finally {
      clearTimeout(timer);
    }
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(value)));
}
