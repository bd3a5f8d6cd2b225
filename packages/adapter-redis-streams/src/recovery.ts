import { inGroup, type Member } from './member';
import { asArray, asText, claimedEntries } from './replies';
import { claimIdle, forgetConsumers, touch } from './scripts';

// Members that died leave consumers behind; they are removed once idle this long with nothing pending.
const STALE_CONSUMER_MS = 60 * 60 * 1000;
// Pending entries examined per script call.
const PAGE = 100;

/**
 * What a member does for the group beside reading: it claims the entries that dead members left
 * pending longer than `claimIdleMs` (`XPENDING ... IDLE` and `XCLAIM` in a script, this adapter's
 * `XAUTOCLAIM`, paging from a cursor per stream so that many waiting retries cannot hide an entry
 * behind them), keeps its own entries fresh so that no live member claims them, and removes the
 * consumers of dead members once they hold nothing.
 */
export class Recovery {
  private cursors: string[];
  private rounds = 0;

  constructor(private readonly member: Member) {
    this.cursors = member.streams.map(() => '-');
  }

  /** Unordered: claims entries that other (dead) members left pending longer than the idle limit. */
  async claimIdle(): Promise<void> {
    const member = this.member;
    let budget = member.dispatcher.room;
    for (const indexes of member.slotGroups) {
      if (budget <= 0) break;
      const reply = asArray(
        await claimIdle.run(member.command, member.streamKeyTriples(indexes), [
          member.group,
          member.consumer,
          member.context.claimIdleMs,
          budget,
          PAGE,
          ...indexes.map((index) => this.cursors[index]!),
        ]),
        'claim-idle reply',
      );
      asArray(reply[0], 'cursors').forEach((cursor, i) => {
        this.cursors[indexes[i]!] = asText(cursor, 'cursor');
      });
      const entries = inGroup(claimedEntries(reply[1]), indexes);
      member.acceptClaimed(entries);
      budget -= entries.length;
    }
    await this.forgetDeadConsumers();
  }

  /** Every hundredth call: removes the consumers of members that died, once they hold nothing. */
  async forgetDeadConsumers(): Promise<void> {
    if (this.rounds++ % 100 !== 0) return;
    const member = this.member;
    for (const indexes of member.slotGroups) {
      await forgetConsumers.run(member.command, member.streamsAt(indexes), [
        member.group,
        member.consumer,
        STALE_CONSUMER_MS,
      ]);
    }
  }

  /** Resets the idle time of the entries this member holds, so no other member claims them. */
  async refresh(): Promise<void> {
    const member = this.member;
    const live = [...member.held.values()].filter((delivery) => !delivery.abandoned);
    if (live.length === 0) return;
    for (const indexes of member.slotGroups) {
      if (!live.some((delivery) => indexes.includes(delivery.index))) continue;
      await touch.run(member.command, member.streamsAt(indexes), [
        member.group,
        member.consumer,
        ...member.idLists(live, indexes),
      ]);
    }
  }

  /** Removes this member's own consumer from the group, when nothing is left pending for it. */
  async leave(): Promise<void> {
    const member = this.member;
    for (const indexes of member.slotGroups) {
      await forgetConsumers.run(member.command, member.streamsAt(indexes), [
        member.group,
        member.consumer,
        '-',
      ]);
    }
  }
}
