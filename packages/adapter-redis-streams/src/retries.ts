import { RETRY_HEADERS, type RetrySettlement, settlementHeaders } from '@tidings/core/adapter';
import { encodeHeaders } from './codec';
import { isReplyError } from './connection';
import { type Delivery, heldKey, inGroup, type Member, sleep } from './member';
import { claimedEntries } from './replies';
import { claimDue, claimOne, scheduleRetry } from './scripts';

/**
 * Retries, which never re-publish: the entry stays pending in its group, its id waits in the
 * group's due set (scored with server time + delay), the headers the retry adds wait in a hash
 * beside it, and a claim brings it back when due, raising its delivery count. Unordered, any
 * member brings back what is due (this one on time for its own retries, by a timer; every member
 * by polling); ordered, the retry waits in the member that holds its key.
 */
export class DueRetries {
  /** Unordered: when retries this member scheduled fall due (Date.now() ms, ascending). */
  private readonly localDue: number[] = [];
  private dueTimer: NodeJS.Timeout | undefined;
  private dueTimerAt = Number.POSITIVE_INFINITY;
  /** Unordered: the last look for due retries stopped for want of room. */
  backlog = false;

  constructor(private readonly member: Member) {}

  /**
   * Stores a retry's due time and headers beside the pending entry; resolves with the delay in ms.
   * The claim that brings the entry back raises its delivery count, which counts this retry: so
   * the `tidings-attempt` header is not stored (it would count the retry twice, see `attemptOf`),
   * while the first-failure time is.
   */
  async schedule(delivery: Delivery, settlement: RetrySettlement): Promise<number> {
    const { member } = this;
    const stream = member.streams[delivery.index]!;
    const headers = settlementHeaders(delivery.retryHeaders ?? {}, settlement.headers);
    delete headers[RETRY_HEADERS.attempt];
    const delayMs = Math.max(0, Math.ceil(settlement.delayMs));
    const { keys } = member.context.shards;
    await scheduleRetry.run(
      member.command,
      [keys.due(stream, member.group), keys.retryHeaders(stream, member.group)],
      [delivery.id, delayMs, encodeHeaders(headers)],
    );
    return delayMs;
  }

  /** Unordered: brings back this group's retries that are due, on this member. */
  async moveDue(): Promise<void> {
    const { member } = this;
    for (;;) {
      const budget = member.dispatcher.room;
      // No room (or paused): the next handler to finish asks again (see StreamSubscription.process).
      this.backlog = budget === 0;
      if (this.backlog) return;
      let claimed = 0;
      for (const indexes of member.slotGroups) {
        const left = budget - claimed;
        if (left <= 0) break;
        const reply = await claimDue.run(member.command, member.streamKeyTriples(indexes), [
          member.group,
          member.consumer,
          left,
        ]);
        const entries = inGroup(claimedEntries(reply), indexes);
        member.acceptClaimed(entries);
        claimed += entries.length;
      }
      if (claimed < budget) return;
    }
  }

  /** Unordered: runs {@link moveDue} when a retry this member scheduled becomes due. */
  wakeFor(delayMs: number): void {
    // A few ms late rather than early: the server's clock decides what is due.
    const at = Date.now() + delayMs + 5;
    let i = this.localDue.length;
    while (i > 0 && this.localDue[i - 1]! > at) i--;
    this.localDue.splice(i, 0, at);
    this.armTimer();
  }

  /** Stops the timer of {@link wakeFor} (closing). */
  stop(): void {
    clearTimeout(this.dueTimer);
  }

  private armTimer(): void {
    const next = this.localDue[0];
    if (next === undefined || next >= this.dueTimerAt || this.member.phase !== 'running') return;
    clearTimeout(this.dueTimer);
    this.dueTimerAt = next;
    this.dueTimer = setTimeout(
      () => {
        this.dueTimerAt = Number.POSITIVE_INFINITY;
        const now = Date.now();
        while (this.localDue.length > 0 && this.localDue[0]! <= now) this.localDue.shift();
        void this.member.once('due', () => this.moveDue());
        this.armTimer();
      },
      Math.max(0, next - Date.now()),
    );
    this.dueTimer.unref();
  }

  /**
   * Ordered retries: waits out the delay, then claims the entry back (raising its delivery count).
   * Gives the entry up, for the next holder of the stream, if the member closes or loses the lease
   * meanwhile. Resolves with the entry's next delivery, or undefined when it is not this member's
   * to handle any more.
   */
  async claimBackWhenDue(delivery: Delivery): Promise<Delivery | undefined> {
    const { member } = this;
    const key = heldKey(delivery);
    const deadline = performance.now() + (delivery.waitMs ?? 0);
    while (performance.now() < deadline && member.phase === 'running' && member.holdsLease(delivery.index)) {
      await member.nudged(Math.max(1, Math.ceil(deadline - performance.now())));
    }
    if (member.phase !== 'running' || !member.holdsLease(delivery.index)) {
      member.held.delete(key);
      delivery.abandoned = true;
      await member.releaseIds([delivery], false);
      return undefined;
    }
    let reply: unknown;
    for (let failures = 0; ; failures++) {
      try {
        reply = await claimOne.run(member.command, member.keyTriple(delivery.index), [
          member.group,
          member.consumer,
          delivery.id,
        ]);
        break;
      } catch (error) {
        // The connection is down: try again while the lease lasts, keeping the key held.
        member.noteError(error);
        if (isReplyError(error) || !member.mayKeepTrying(delivery)) {
          member.held.delete(key);
          return undefined;
        }
      }
      await sleep(Math.min(2_000, 100 * 2 ** failures));
    }
    if (reply === null) {
      // Gone: deleted from the stream, or settled by a member that took it over.
      member.held.delete(key);
      return undefined;
    }
    const [entry] = claimedEntries([reply]);
    const next = member.delivery(delivery.index, { ...entry!, dueInMs: undefined });
    member.held.set(key, next);
    return next;
  }
}
