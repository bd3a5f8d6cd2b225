import {
  type IncomingRecord,
  isSettlement,
  RETRY_NOW,
  type RecordHandler,
  recordForGroup,
  type Settlement,
} from '@tidings/core/adapter';
import type { OffsetCommitter } from './committer';
import type { DeadLetters } from './dead-letters';
import type { Delivery, Intake } from './fetch';
import { settles } from './partition';
import type { Retries } from './retries';

/** @internal What settling needs from its subscription. */
export interface SettleDeps {
  /** The subscription's group: a redriven record addressed to another group is not its to handle. */
  readonly group: string;
  readonly handler: RecordHandler;
  readonly deadLetters: DeadLetters;
  readonly retries: Retries;
  readonly committer: OffsetCommitter;
  readonly intake: Intake;
  /** Aborted when `close` gives up on in-flight records: their late settlements are ignored. */
  readonly abandoned: AbortSignal;
  readonly report: (error: unknown, what: string) => void;
}

/**
 * @internal The dispatch and settling of deliveries: what the dispatcher runs for each record. It
 * calls the core's handler and applies the settlement: an ack settles the record's offset, a dead
 * letter settles it once the broker has the letter, a retry settles it once the retry topic has the
 * copy, or retries it in place. A record a redrive addressed to another group of the topic is
 * settled at once, unhandled; one addressed to this group is handled without the address.
 */
export class Settler {
  constructor(private readonly deps: SettleDeps) {}

  /** Delivers one record, applies its settlement, and retries it in place when that is the mode. */
  async run(first: Delivery): Promise<void> {
    const { deadLetters, retries, abandoned } = this.deps;
    const { state } = first;
    if (state.phase !== 'active') return;
    const own = recordForGroup(first.record, this.deps.group);
    if (own === undefined) {
      // Redriven for another group: this group handled the original already. Settled in its turn
      // (behind its key's earlier records), so the committed offset never passes an unsettled one.
      this.settle(first);
      return;
    }
    state.enter();
    try {
      let delivery = own === first.record ? first : { ...first, record: own };
      for (;;) {
        const settlement = await this.handle(delivery.record);
        if (!settles(state, abandoned)) return;
        if (settlement.type === 'ack') {
          this.settle(delivery);
          return;
        }
        if (settlement.type === 'deadLetter') {
          if (await deadLetters.write(delivery, settlement)) this.settle(delivery);
          return;
        }
        if (await retries.throughTopic(delivery, settlement)) {
          this.settle(delivery);
          return;
        }
        const next = retries.inPlace(delivery, settlement);
        if (!(await retries.waitToRedeliver(state, settlement.delayMs))) return;
        delivery = next;
      }
    } finally {
      state.leave();
    }
  }

  private async handle(record: IncomingRecord): Promise<Settlement> {
    try {
      const settlement = await this.deps.handler(record);
      if (isSettlement(settlement)) return settlement;
      this.deps.report(
        new TypeError(`the record handler settled with ${String(settlement)}`),
        'retrying the record',
      );
      return RETRY_NOW;
    } catch {
      // The core never rejects; should it, the contract says retry at once.
      return RETRY_NOW;
    }
  }

  private settle(delivery: Delivery): void {
    delivery.state.settle(delivery.offset);
    this.deps.committer.markDirty(delivery.state);
    this.deps.intake.syncPause(delivery.state);
  }
}
