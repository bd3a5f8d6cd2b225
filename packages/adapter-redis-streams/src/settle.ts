import { ConfigError, type Settlement, type SettlementObserver, topicProblem } from '@tidings/core/adapter';
import { failureKind } from './connection';
import { writeDeadLetter } from './dead-letters';
import { type Delivery, heldKey, type Member } from './member';
import type { DueRetries } from './retries';

// A settlement refused for now (OOM, LOADING, a lost connection on an ordered stream) is tried
// again after 100 ms, doubling up to this.
const MAX_SETTLE_BACKOFF_MS = 5_000;
// A dead letter refused for good (WRONGTYPE, NOPERM) leaves its record to come back after 1 s,
// doubling with each failure up to this: an operator may fix the key, but nothing loops meanwhile.
const MAX_COME_BACK_MS = 60_000;
const MAX_REMEMBERED_REFUSALS = 10_000;

/**
 * Applies the settlements of a subscription's handlers: an ack is a batched `XACK`, a retry goes to
 * the due set ({@link DueRetries}), a dead letter is written and the original acknowledged in one
 * script (see `dead-letters.ts`). Tells the observer what became of each dead letter, and of each
 * settlement Redis refused.
 */
export class Settler {
  /** Entries whose dead letter Redis refused for good, by held key: how many times in a row. */
  private readonly refusedDeadLetters = new Map<string, number>();

  constructor(
    private readonly member: Member,
    private readonly retries: DueRetries,
  ) {}

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
   * Resolves with that delay, or `undefined` once the settlement is applied or left. `sent` is a
   * first attempt already under way (see {@link sendAck}), awaited in place of the first `settle`.
   */
  async settleOrLeave(
    delivery: Delivery,
    settlement: Settlement,
    sent?: Promise<void>,
  ): Promise<number | undefined> {
    const { member } = this;
    const key = heldKey(delivery);
    let told = false;
    for (let failures = 0; ; failures++) {
      try {
        await (failures === 0 && sent !== undefined ? sent : this.settle(delivery, settlement));
        this.refusedDeadLetters.delete(key);
        return undefined;
      } catch (thrown) {
        const error = member.noteError(thrown);
        if (!told) {
          told = true;
          this.tell((observer) => observer.settlementFailed(delivery.record, settlement, error));
        }
        const kind = failureKind(thrown);
        if (kind === 'permanent' || kind === 'too-large') {
          if (settlement.type !== 'deadLetter') return undefined;
          const refusals = (this.refusedDeadLetters.get(key) ?? 0) + 1;
          // Records that went on to another member are never settled here: forget them all at times.
          if (this.refusedDeadLetters.size >= MAX_REMEMBERED_REFUSALS) this.refusedDeadLetters.clear();
          this.refusedDeadLetters.set(key, refusals);
          return Math.min(MAX_COME_BACK_MS, 1_000 * 2 ** (refusals - 1));
        }
        if (kind === 'connection' && !member.ordered) return undefined;
        if (!member.mayKeepTrying(delivery)) return undefined;
      }
      // Woken early by a reconnection or the close.
      await member.nudged(Math.min(MAX_SETTLE_BACKOFF_MS, 100 * 2 ** failures));
    }
  }

  /** Applies a settlement once; rejects with Redis's error when it is refused or unanswered. */
  async settle(delivery: Delivery, settlement: Settlement): Promise<void> {
    const { member } = this;
    const { index, id, record } = delivery;
    const stream = member.streams[index]!;
    switch (settlement.type) {
      case 'ack':
        await this.sendAck(delivery);
        return;
      case 'retry': {
        this.retries.wakeFor(await this.retries.schedule(delivery, settlement));
        return;
      }
      case 'deadLetter': {
        const { context } = member;
        const problem = topicProblem(context.topicRule, settlement.topic);
        if (problem !== undefined) throw new ConfigError('deadLetter.topic', problem);
        const target = await context.deadLetterStream(settlement.topic, record.key);
        const letter = await writeDeadLetter(
          member.command,
          { source: stream, target, group: member.group, id, keys: context.shards.keys },
          record,
          settlement,
          context.options.maxMessageBytes,
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

  /**
   * Sends the ack of `delivery` in the turn's `XACK` batch: the whole of an ack that goes through,
   * with no async step of its own. A caller that must see a refusal handled passes the promise on
   * to {@link settleOrLeave}.
   */
  sendAck(delivery: Delivery): Promise<void> {
    const { member } = this;
    return member.acks.ack(member.streams[delivery.index]!, delivery.id, delivery.retryHeaders !== undefined);
  }

  /** Calls the observer, if any; what it throws is ignored (the contract says it does not). */
  private tell(call: (observer: SettlementObserver) => void): void {
    const { observer } = this.member.context;
    if (observer === undefined) return;
    try {
      call(observer);
    } catch {
      // An observer's failure must not turn into a failed settlement.
    }
  }
}
