import { sleep, whenAborted } from '@tidings/core/adapter';
import type { OffsetCommitRequest } from '../client/consumer';
import { isRetriableCommitFailure } from '../errors';
import type { PartitionState } from './partition';

/** @internal One partition's position to commit, with the metadata the adapter keeps beside it. */
export type CommitRequest = OffsetCommitRequest;

/** @internal What an {@link OffsetCommitter} needs from its subscription. */
export interface CommitterDeps {
  /** Partitions whose position may be committed now (assigned, or draining after a revoke). */
  readonly committable: () => Iterable<PartitionState>;
  /** Whether kafkajs can commit at all (not between a crash and its restart, not closed). */
  readonly canCommit: () => boolean;
  readonly commit: (offsets: CommitRequest[]) => Promise<void>;
  readonly onError: (error: unknown) => void;
  /** A commit of {@link OffsetCommitter.flushUntilCommitted} failed and is tried again in `delayMs`. */
  readonly onRetry: (error: unknown, delayMs: number) => void;
  readonly intervalMs: number;
}

/** @internal How long {@link OffsetCommitter.flushUntilCommitted} keeps trying. */
export interface FinalCommitOptions {
  /** Stops the retries (an attempt in progress is not awaited any longer). */
  readonly signal?: AbortSignal | undefined;
  /** No attempt starts this long after the call. */
  readonly deadlineMs: number;
}

/** @internal How {@link OffsetCommitter.flushUntilCommitted} ended. */
export type FinalCommit =
  | { readonly committed: true }
  | {
      readonly committed: false;
      /** Why it stopped trying: the signal, the deadline, or a failure no retry can cure. */
      readonly reason: 'aborted' | 'deadline' | 'refused';
      /** Partitions whose position stayed uncommitted. */
      readonly partitions: number;
      /** The last commit failure; undefined when kafkajs could not commit at all (restarting). */
      readonly error: unknown;
    };

/** First and longest pause between the commits of {@link OffsetCommitter.flushUntilCommitted}. */
const FINAL_RETRY_MS = { first: 100, max: 2_000 } as const;

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
  /** Set by {@link flushUntilCommitted}: failures go to its caller, not to `onError`, and no timer retries. */
  private final = false;
  /** The failure of the latest commit request, cleared when one succeeds. */
  private failure: { readonly error: unknown } | undefined;
  /** Partitions of the commit request in progress (no longer dirty, not committed yet). */
  private inFlight = 0;

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

  /**
   * The last commit of a subscription that closes: commits every dirty partition and, while some
   * stay dirty after a failure a retry can cure (the coordinator moving or loading, a rebalance, a
   * request timeout), tries again after 100 ms, doubling up to 2 s, until the signal aborts or
   * `deadlineMs` has passed; so too while kafkajs cannot commit (`canCommit`, a consumer restarting
   * after a crash). A failure no retry cures (the member was dropped: the partitions are
   * someone else's now) ends it at once. Failures are not passed to `onError`: the caller reports
   * the outcome once.
   */
  async flushUntilCommitted(options: FinalCommitOptions): Promise<FinalCommit> {
    const { signal, deadlineMs } = options;
    const deadline = Date.now() + deadlineMs;
    this.final = true;
    this.cancelTimer();
    for (let attempt = 0; ; attempt++) {
      this.failure = undefined;
      // The first attempt is always awaited, as a close that already gave up on its handlers still
      // commits what was settled; later ones end with the signal.
      const flushed = this.flush();
      if (attempt === 0 || signal === undefined) await flushed;
      else await Promise.race([flushed, whenAborted(signal)]);
      const partitions = this.dirtyCount() + this.inFlight;
      if (partitions === 0) return { committed: true };
      const failure = this.lastFailure();
      const error = failure?.error;
      const stop = (reason: 'aborted' | 'deadline' | 'refused'): FinalCommit => ({
        committed: false,
        reason,
        partitions,
        error,
      });
      if (signal?.aborted) return stop('aborted');
      // No failure: kafkajs could not commit (restarting after a crash); that passes.
      if (failure !== undefined && !isRetriableCommitFailure(error)) return stop('refused');
      const delayMs = Math.min(
        FINAL_RETRY_MS.first * 2 ** attempt,
        FINAL_RETRY_MS.max,
        deadline - Date.now(),
      );
      if (delayMs <= 0) return stop('deadline');
      this.deps.onRetry(error, delayMs);
      if (!(await sleep(delayMs, signal))) return stop('aborted');
    }
  }

  /** No more commits after the one in progress. */
  stop(): void {
    this.stopped = true;
    this.cancelTimer();
  }

  private schedule(ms: number): void {
    if (this.timer !== undefined || this.stopped || this.final) return;
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

  private lastFailure(): { readonly error: unknown } | undefined {
    return this.failure;
  }

  private dirtyCount(): number {
    let count = 0;
    for (const state of this.deps.committable()) if (state.dirty) count++;
    return count;
  }

  private async commitDirty(): Promise<void> {
    if (!this.deps.canCommit()) return;
    const states = [...this.deps.committable()].filter((state) => state.dirty);
    if (states.length === 0) return;
    for (const state of states) state.dirty = false;
    this.inFlight = states.length;
    try {
      await this.deps.commit(
        states.map((state) => ({
          topic: state.topic,
          partition: state.partition,
          offset: state.position(),
          metadata: state.metadata(),
        })),
      );
    } catch (error) {
      for (const state of states) if (state.phase !== 'gone') state.dirty = true;
      this.failure = { error };
      if (!this.final) this.deps.onError(error);
    } finally {
      this.inFlight = 0;
    }
  }
}
