import type { PartitionState } from './partition';

/** @internal One partition's position to commit, with the metadata the adapter keeps beside it. */
export interface CommitRequest {
  readonly topic: string;
  readonly partition: number;
  /** The offset of the next record to handle, as a decimal string (Kafka offsets are 64-bit). */
  readonly offset: string;
  readonly metadata: string;
}

/** @internal What an {@link OffsetCommitter} needs from its subscription. */
export interface CommitterDeps {
  /** Partitions whose position may be committed now (assigned, or draining after a revoke). */
  readonly committable: () => Iterable<PartitionState>;
  /** Whether kafkajs can commit at all (not between a crash and its restart, not closed). */
  readonly canCommit: () => boolean;
  readonly commit: (offsets: CommitRequest[]) => Promise<void>;
  readonly onError: (error: unknown) => void;
  readonly intervalMs: number;
}

/**
 * @internal Commits the positions of a subscription's partitions: the dirty ones, at most every
 * `intervalMs`, or at once on {@link flush}. One commit request at a time; a failed commit leaves
 * its partitions dirty and is tried again.
 */
export class OffsetCommitter {
  private timer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly deps: CommitterDeps) {}

  /** Marks a partition's position as changed; it is committed within the interval. */
  markDirty(state: PartitionState): void {
    state.dirty = true;
    if (this.timer === undefined && this.committing === undefined) this.schedule(this.deps.intervalMs);
  }

  /** Commits every dirty partition now; resolves when what was dirty at the call is committed or failed. */
  flush(): Promise<void> {
    this.cancelTimer();
    if (this.committing !== undefined) {
      this.again = true;
      return this.committing;
    }
    this.committing = (async () => {
      do {
        this.again = false;
        await this.commitDirty();
      } while (this.again);
    })().finally(() => {
      this.committing = undefined;
      // Failed commits are tried again, less eagerly than the regular interval.
      if (this.hasDirty()) this.schedule(Math.max(this.deps.intervalMs, 500));
    });
    return this.committing;
  }

  /** No more commits after the one in progress. */
  stop(): void {
    this.stopped = true;
    this.cancelTimer();
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private hasDirty(): boolean {
    for (const state of this.deps.committable()) if (state.dirty) return true;
    return false;
  }

  private async commitDirty(): Promise<void> {
    if (!this.deps.canCommit()) return;
    const states = [...this.deps.committable()].filter((state) => state.dirty);
    if (states.length === 0) return;
    for (const state of states) state.dirty = false;
    try {
      await this.deps.commit(
        states.map((state) => ({
          topic: state.topic,
          partition: state.partition,
          offset: String(state.position()),
          metadata: state.metadata(),
        })),
      );
    } catch (error) {
      for (const state of states) if (state.phase !== 'gone') state.dirty = true;
      this.deps.onError(error);
    }
  }
}
