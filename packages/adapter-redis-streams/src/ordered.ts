import { keys } from './keys';
import { heldKey, type Member } from './member';
import type { Recovery } from './recovery';
import { asArray, asInteger, asText, claimedEntries } from './replies';
import { countMembers, liveMembers, takeOver } from './scripts';

// Pending entries examined per script call when taking a stream over.
const PAGE = 100;

/**
 * What an ordered subscription (`ordering: 'key'`) does besides reading: it reads a stream only
 * while it holds the group's lease on it (see `StreamLease`), shares a topic's shards with the
 * other members of the group, and takes a stream over, in id order, from the member that held it
 * before, before it reads anything new. A heartbeat keeps the member counted alive and its leases
 * renewed; the entries of a member no longer counted alive are taken over at once.
 */
export class OrderedStreams {
  private readonly takeOverCursors: string[];
  private rounds = 0;
  /** Members of the group on each topic, as the last heartbeat counted them. */
  private readonly memberCounts = new Map<string, number>();

  constructor(
    private readonly member: Member,
    private readonly recovery: Recovery,
    /** Ends the reader's read under way and waits for it (see `StreamReader.interrupt`). */
    private readonly interruptRead: () => Promise<void>,
  ) {
    this.takeOverCursors = member.streams.map(() => '-');
  }

  /**
   * The member's heartbeat, run every third of the lease TTL on a timer of its own (never behind
   * a handler or a take-over): counts the member in on each topic for one TTL more, which tells
   * the others it is alive, and renews the leases it holds, giving up the streams whose lease was
   * lost.
   */
  async heartbeat(): Promise<void> {
    const { member } = this;
    for (const topic of member.shardsOf.keys()) {
      const members = await countMembers.run(
        member.command,
        [keys.members(topic, member.group)],
        [member.consumer, member.context.options.leaseTtlMs],
      );
      this.memberCounts.set(topic, Math.max(1, asInteger(members, 'member count')));
    }
    for (const [index, lease] of member.leases.entries()) {
      if (!lease.holding) continue;
      const change = await lease.renew().catch((error: unknown) => {
        member.noteError(error);
        return undefined;
      });
      if (change === 'lost') await this.loseStream(index);
    }
  }

  /**
   * Takes and renews the leases, takes streams over, gives up the ones lost. The members of the
   * group share a topic's shards: each holds at most its share (shards / members, rounded up) and
   * gives up what it holds beyond it, so that a member that joins gets some.
   */
  async holdLeases(): Promise<void> {
    const { member } = this;
    // Counted in (alive) before taking anything, so that no other member takes our entries for a dead member's.
    if (this.memberCounts.size === 0) await this.heartbeat();
    for (const [topic, indexes] of member.shardsOf) {
      const share = Math.ceil(indexes.length / (this.memberCounts.get(topic) ?? 1));
      let held = indexes.filter((index) => member.leases[index]!.valid);
      for (const index of held.slice(share)) await this.giveUpStream(index);
      held = held.slice(0, share);
      for (const index of indexes) {
        if (!held.includes(index) && held.length >= share) continue;
        const change = await member.leases[index]!.hold().catch((error: unknown) => {
          member.noteError(error);
          return undefined;
        });
        if (change === 'taken') {
          member.takenOver[index] = false;
          this.takeOverCursors[index] = '-';
          if (!held.includes(index)) held.push(index);
        } else if (change === 'lost') {
          await this.loseStream(index);
          held = held.filter((i) => i !== index);
          continue;
        }
        if (member.leases[index]!.valid) await this.takeOverStream(index);
      }
    }
    // Entries of ours that no handler holds (a settlement that could not be written) come back
    // through the reader, in id order, before its next read.
    if (this.rounds++ % 3 === 0 && member.leases.some((lease) => lease.valid)) {
      member.lookForLostReads = true;
    }
    await this.recovery.forgetDeadConsumers();
  }

  /**
   * Closing: gives up every lease and leaves the members of each topic, so that the next member
   * need not wait for the leases to run out, nor count this one in. `step` bounds each call.
   */
  async leave(step: (call: Promise<unknown>) => Promise<void>, handlersLeft: boolean): Promise<void> {
    const { member } = this;
    for (const lease of member.leases) await step(lease.drop());
    for (const topic of member.shardsOf.keys()) {
      const members = keys.members(topic, member.group);
      // Handlers left running (the close stopped waiting) still hold their entries: the member
      // counts as alive for `claimIdleMs` more, as an unordered member's entries stay that long.
      await step(
        handlersLeft
          ? countMembers.run(member.command, [members], [member.consumer, member.context.claimIdleMs])
          : member.command.zrem(members, member.consumer),
      );
    }
  }

  /**
   * Lets another member have a stream: stops reading it (a blocking read under way could still
   * fetch its new entries after the next member has taken it over), gives back what waits, then
   * the lease.
   */
  private async giveUpStream(index: number): Promise<void> {
    this.member.takenOver[index] = false;
    await this.interruptRead();
    await this.loseStream(index);
    await this.member.leases[index]!.drop().catch((error: unknown) => this.member.noteError(error));
  }

  /**
   * Claims what other members left pending on a stream just taken, in id order; the stream is
   * read with '>' once nothing of another member is left. Once taken over, the same pass goes on
   * picking up entries other members give up later.
   */
  private async takeOverStream(index: number): Promise<void> {
    const { member } = this;
    for (;;) {
      const membersKey = keys.members(member.topicOf[index]!, member.group);
      const args = [
        member.group,
        member.consumer,
        member.context.claimIdleMs,
        PAGE,
        this.takeOverCursors[index]!,
      ];
      // On a cluster the members set lies in another slot than the stream: who is alive is read first.
      const reply = asArray(
        member.context.shards.clustered
          ? await takeOver.run(member.command, member.keyTriple(index), [
              ...args,
              ...asArray(await liveMembers.run(member.command, [membersKey], []), 'live members').map(
                (name) => asText(name, 'member'),
              ),
            ])
          : await takeOver.run(member.command, [...member.keyTriple(index), membersKey], args),
        'take-over reply',
      );
      const [cursor, busy, entries] = reply;
      member.acceptClaimed(claimedEntries(entries), index);
      const done = cursor === null || cursor === false;
      this.takeOverCursors[index] = done ? '-' : asText(cursor, 'cursor');
      if (asInteger(busy, 'busy') === 1) return;
      if (done) {
        if (!member.takenOver[index]) {
          member.takenOver[index] = true;
          member.nudge();
        }
        return;
      }
    }
  }

  /** The lease on a stream ran out or another member holds it now. */
  private async loseStream(index: number): Promise<void> {
    const { member } = this;
    member.takenOver[index] = false;
    // Entries of the stream not started yet go back; the others keep their place in the queue.
    const queued = member.dispatcher.drainQueued();
    const lost = queued.filter((delivery) => delivery.index === index);
    for (const delivery of queued) if (delivery.index !== index) member.dispatcher.push(delivery);
    for (const delivery of lost) {
      delivery.abandoned = true;
      member.held.delete(heldKey(delivery));
    }
    // Waiting retries of the stream wake up, see the lease gone and give their entries back.
    member.nudge();
    if (lost.length > 0) await member.releaseIds(lost, true);
  }
}
