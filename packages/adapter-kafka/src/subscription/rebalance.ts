import { randomUUID } from 'node:crypto';
import type { SubscribeSpec } from '@tidings/core/adapter';
import { sleep } from '@tidings/core/adapter';
import type { KafkaAdminClient } from '../client/admin';
import type { OffsetCommitter } from './committer';
import type { Intake } from './fetch';
import { PartitionState, partitionKey } from './partition';
import { readCommitted, startOffsets } from './positions';

/**
 * Group membership: assignments, the revoke and drain of partitions that move away, and the
 * loading of the committed positions of partitions that arrive.
 *
 * @module
 */

/** How often a new owner looks again at a partition whose previous owner is still draining it. */
const DRAIN_POLL_MS = 100;
/** Pause before reading positions again after a failed attempt. */
const LOAD_RETRY_MS = 1_000;

/** @internal A member's share of the group, as the group coordinator assigned it. */
export interface GroupAssignment {
  readonly memberId: string;
  /** Partitions by topic. */
  readonly partitions: Readonly<Record<string, readonly number[]>>;
}

/** @internal What group membership needs from its subscription. */
export interface MembershipDeps {
  readonly spec: SubscribeSpec;
  /** The assigned partitions, by {@link partitionKey}: kept here, read by the intake too. */
  readonly partitions: Map<string, PartitionState>;
  readonly intake: Intake;
  readonly committer: OffsetCommitter;
  readonly admin: () => Promise<KafkaAdminClient>;
  /** Aborted when `close` begins. */
  readonly stopping: AbortSignal;
  /** Aborted when `close` gives up on in-flight records. */
  readonly abandoned: AbortSignal;
  /** Whether the subscription is closing or closed. */
  readonly closing: () => boolean;
  /** A new assignment is in place: the subscription is running again after a crash. */
  readonly onAssigned: () => void;
  /** Every partition of the assignment is positioned: `subscribe` may resolve. */
  readonly onPositioned: () => void;
  readonly info: (message: string, fields: Record<string, unknown>) => void;
  readonly report: (error: unknown, what: string) => void;
}

/**
 * @internal The subscription's membership in its group. A partition that moves away is revoked:
 * its in-flight records finish here (up to the drain time), then its final position is committed.
 * A partition that arrives loads its committed position first, waiting for a previous owner that
 * left a drain marker to finish, so that no record is handled twice on a healthy rebalance.
 */
export class Membership {
  private readonly revoking = new Map<
    string,
    { readonly state: PartitionState; readonly done: Promise<void> }
  >();
  private pendingLoad: PartitionState[] = [];
  private loadDue = false;
  /** Names this subscription in the drain markers it writes. */
  private readonly instance = randomUUID();
  /** How long the next owner of a partition waits for this member to drain it. */
  private readonly drainMs: number;
  /** The member id the coordinator gave this member at its last join. */
  private member: string | undefined;
  /** Counts joins and rebalances: a rewind that sees it change lost its partitions meanwhile. */
  private generation = 0;

  constructor(private readonly deps: MembershipDeps) {
    const { handlerTimeoutMs } = deps.spec;
    this.drainMs = handlerTimeoutMs > 0 ? handlerTimeoutMs + 5_000 : 30_000;
  }

  /**
   * A new assignment. Partitions no longer ours are revoked (their in-flight records finish, then
   * the final position is committed); new ones load their position before records are taken.
   */
  onGroupJoin(assignment: GroupAssignment): void {
    const { partitions, intake, committer } = this.deps;
    this.member = assignment.memberId;
    this.generation++;
    const assigned = new Map<string, readonly [string, number]>();
    for (const [topic, numbers] of Object.entries(assignment.partitions)) {
      for (const partition of numbers) assigned.set(partitionKey(topic, partition), [topic, partition]);
    }
    const revoked = [...partitions.values()].filter((state) => !assigned.has(state.key));
    this.deps.info('joined the group', {
      memberId: assignment.memberId,
      assigned: [...assigned.values()].map(([topic, partition]) => `${topic}/${partition}`),
      revoked: revoked.map(describe),
    });
    for (const state of revoked) this.revoke(state);
    // A member on its way out takes no new partitions; kafkajs hands them on when it leaves.
    if (this.deps.closing()) return;
    const fresh: PartitionState[] = [];
    for (const [key, [topic, partition]] of assigned) {
      if (partitions.has(key)) continue;
      const state = new PartitionState(topic, partition);
      partitions.set(key, state);
      fresh.push(state);
    }
    for (const state of partitions.values()) {
      state.fetchPaused = false;
      if (state.phase !== 'active') continue;
      // Rewrite the position of kept partitions: it clears the drain marker set for the rebalance.
      state.drain = undefined;
      committer.markDirty(state);
      // kafkajs would fetch a kept partition again from its committed offset; go on from where we are.
      intake.seek(state, state.next);
    }
    // kafkajs keeps pauses across a rebalance but not across the restart after a crash.
    intake.resumeAll();
    intake.syncPauses();
    this.deps.onAssigned();
    intake.thaw();
    this.pendingLoad.push(...fresh);
    // Positions are read once kafkajs fetches again: only then does it accept commits and seeks.
    this.loadDue = true;
  }

  /**
   * kafkajs noticed a rebalance and is about to rejoin, which gives up every partition. Stop starting
   * records, and commit what is settled. Partitions with records still in flight get a drain marker,
   * so that their next owner waits for those to finish here instead of handling them again.
   */
  onRebalancing(): void {
    const { partitions } = this.deps;
    this.generation++;
    this.deps.intake.freeze();
    for (const state of partitions.values()) {
      if (state.phase !== 'active') continue;
      state.drain = state.running > 0 ? { owner: this.instance, drainMs: this.drainMs } : undefined;
      state.dirty = true;
    }
    this.deps.info('the group is rebalancing; committing settled positions', {
      draining: [...partitions.values()].filter((state) => state.drain !== undefined).map(describe),
    });
    void this.deps.committer.flush();
  }

  /** kafkajs starts a fetch: the moment to load the positions of new partitions. */
  onFetchStart(): void {
    if (!this.loadDue) return;
    this.loadDue = false;
    void this.load(this.pendingLoad.splice(0));
  }

  /** The member id of this member in its group, once it joined. */
  get memberId(): string | undefined {
    return this.member;
  }

  /**
   * Moves the assigned partitions of `topic` named in `offsets` (partition → offset) to those
   * offsets, for a replay while this member holds them: each is revoked here as in a rebalance
   * (queued records dropped, in-flight ones finish, the position committed), then taken anew at
   * its offset, which is committed. Resolves with the partitions moved; rejects when the group
   * rebalanced meanwhile (the partitions may be another member's now).
   */
  async rewind(topic: string, offsets: ReadonlyMap<number, number>): Promise<number[]> {
    const { partitions, intake, committer } = this.deps;
    const generation = this.generation;
    const targets = [...partitions.values()].filter(
      (state) => state.topic === topic && state.phase === 'active' && offsets.has(state.partition),
    );
    for (const state of targets) this.revoke(state);
    await Promise.all(targets.map((state) => this.revoking.get(state.key)?.done));
    if (this.generation !== generation || this.deps.closing()) {
      throw new Error(`the group rebalanced while ${topic} was being moved; run the replay again`);
    }
    for (const old of targets) {
      const state = new PartitionState(old.topic, old.partition);
      // kafkajs still has the partition paused if the old state had it so: syncPauses resumes it.
      state.fetchPaused = old.fetchPaused;
      state.activate(offsets.get(old.partition)!, new Map());
      partitions.set(state.key, state);
      intake.seek(state, state.next);
      state.dirty = true;
    }
    await committer.flush();
    intake.syncPauses();
    return targets.map((state) => state.partition);
  }

  /** Partitions whose position may be committed: assigned ones, and revoked ones still draining. */
  *committable(): Generator<PartitionState> {
    for (const state of this.deps.partitions.values()) if (state.phase === 'active') yield state;
    for (const { state } of this.revoking.values()) {
      if (state.phase === 'revoking' && state.next >= 0) yield state;
    }
  }

  /** Resolves once every revoked partition has drained (or given up) and committed. */
  async drained(): Promise<void> {
    await Promise.all([...this.revoking.values()].map(({ done }) => done));
  }

  /**
   * Positions newly assigned partitions: waits for our own earlier incarnation of them and for a
   * previous owner's drain marker, reads the committed offset and retry marks, and seeks there. A
   * partition the group never committed starts at the earliest or latest offset; the latest is
   * committed at once, so the group's starting point does not move if this member leaves early.
   */
  private async load(states: readonly PartitionState[]): Promise<void> {
    const { spec, intake, committer, stopping } = this.deps;
    const live = (): PartitionState[] => states.filter((state) => state.phase === 'loading');
    try {
      await Promise.all(states.map((state) => this.revoking.get(state.key)?.done));
      const admin = await this.deps.admin();
      const committed = await readCommitted(admin, spec.group, live());
      const waitStarted = Date.now();
      let announced = false;
      for (;;) {
        const draining = live().filter((state) => {
          const drain = committed.get(state.key)?.metadata.drain;
          return (
            drain !== undefined && drain.owner !== this.instance && Date.now() - waitStarted < drain.drainMs
          );
        });
        if (draining.length === 0) break;
        if (!announced) {
          announced = true;
          this.deps.info('waiting for the previous owner to drain', { partitions: draining.map(describe) });
        }
        if (!(await sleep(DRAIN_POLL_MS, stopping))) return;
        for (const [key, position] of await readCommitted(admin, spec.group, draining)) {
          committed.set(key, position);
        }
      }
      const unpositioned = live().filter((state) => (committed.get(state.key)?.offset ?? -1) < 0);
      const starts = await startOffsets(admin, unpositioned, spec.startFrom);
      const pinned: PartitionState[] = [];
      for (const state of live()) {
        const position = committed.get(state.key);
        const known = position !== undefined && position.offset >= 0;
        const offset = known ? position.offset : starts.get(state.key);
        if (offset === undefined) continue;
        state.activate(offset, position?.metadata.retries ?? new Map());
        intake.seek(state, offset);
        if (!known && spec.startFrom === 'latest') pinned.push(state);
        // A marker left by an owner that timed out draining is ours to clear.
        if (position?.metadata.drain !== undefined) committer.markDirty(state);
      }
      for (const state of pinned) state.dirty = true;
      if (pinned.length > 0) await committer.flush();
      intake.syncPauses();
      if (states.length > 0) {
        this.deps.info('partitions assigned', {
          partitions: states
            .filter((state) => state.phase === 'active')
            .map((state) => `${describe(state)}@${state.next}`),
          waitedMs: Date.now() - waitStarted,
        });
      }
      // Positioned once every partition of the assignment is (a rebalance may have come meanwhile).
      if (![...this.deps.partitions.values()].some((state) => state.phase === 'loading')) {
        this.deps.onPositioned();
      }
    } catch (error) {
      this.deps.report(error, 'reading the committed positions failed; trying again');
      if (stopping.aborted) return;
      this.pendingLoad.push(...live());
      if (!(await sleep(LOAD_RETRY_MS, stopping))) return;
      this.loadDue = true;
    }
  }

  /**
   * Gives a partition up: queued records are dropped (they are the next owner's), waits for due
   * times and retries end, in-flight records finish (up to the drain time), then the final position
   * is committed, which also clears the drain marker the next owner may be waiting on.
   */
  private revoke(state: PartitionState): void {
    const { abandoned, committer } = this.deps;
    this.deps.partitions.delete(state.key);
    const wasActive = state.phase === 'active';
    state.phase = 'revoking';
    state.revoked.abort();
    state.wake();
    this.deps.intake.drop(state);
    if (!wasActive) {
      state.phase = 'gone';
      state.gone.abort();
      return;
    }
    const done = (async () => {
      const started = Date.now();
      const timeUp = new AbortController();
      // Up to the drain time, and no longer than a close that gives up on in-flight records.
      const drained = await Promise.race([
        state.idle().then(() => true),
        sleep(this.drainMs, AbortSignal.any([timeUp.signal, abandoned])).then(() => false),
      ]);
      timeUp.abort();
      if (drained && !abandoned.aborted) {
        state.drain = undefined;
        state.dirty = true;
        await committer.flush();
      }
      state.phase = 'gone';
      state.gone.abort();
      if (this.revoking.get(state.key)?.state === state) this.revoking.delete(state.key);
      this.deps.info(drained ? 'revoked partition drained' : 'revoked partition did not drain in time', {
        partition: describe(state),
        position: state.position(),
        drainedMs: Date.now() - started,
      });
    })();
    this.revoking.set(state.key, { state, done });
  }
}

function describe(state: PartitionState): string {
  return `${state.topic}/${state.partition}`;
}
