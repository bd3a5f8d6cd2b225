import type { DrainMarker, RetryMark } from '../commit-metadata';
import { encodeCommitMetadata } from '../commit-metadata';

/**
 * - `loading`: assigned; the adapter is reading its committed position (and waiting for the
 *   previous owner to drain it) before fetching.
 * - `active`: fetching and delivering.
 * - `revoking`: given to another member; in-flight records finish, then the final position is
 *   committed.
 * - `gone`: forgotten; late settlements are ignored.
 */
export type PartitionPhase = 'loading' | 'active' | 'revoking' | 'gone';

/** @internal The map key of a topic-partition. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * @internal Whether the settlement of a record of `state` still counts: the partition is still
 * ours, or draining after a revoke, and `close` has not given up on its records (`abandoned`).
 */
export function settles(state: PartitionState, abandoned: AbortSignal): boolean {
  return !abandoned.aborted && (state.phase === 'active' || state.phase === 'revoking');
}

/**
 * @internal What one subscription knows about one assigned partition: which fetched records are
 * still unsettled, so that the committed offset never passes one of them.
 *
 * Records are accepted in offset order and settled in any order. The commit position is the offset
 * of the lowest unsettled record, or the next offset to fetch when every record is settled.
 */
export class PartitionState {
  readonly key: string;
  phase: PartitionPhase = 'loading';
  /** The next offset to accept; records below it were accepted before (a refetch) and are skipped. */
  next = -1;
  /** Records accepted and not settled yet: queued, in flight, waiting for a due time or a retry. */
  buffered = 0;
  /** Records whose handler chain is running (handler, retry wait, dead-letter publish). */
  running = 0;
  /** In-consumer retries under way, by offset; committed with the position (see commit-metadata). */
  readonly retries = new Map<number, RetryMark>();
  /** Set while a rebalance is under way and records are in flight: the next owner waits for us. */
  drain: DrainMarker | undefined;
  /** A commit of this partition is due. */
  dirty = false;
  /** Whether kafkajs was told to stop fetching this partition. */
  fetchPaused = false;
  /**
   * Fetching waits: a fetched batch found the partition still loading, or its unsettled records at
   * the limit, and they did not clear within a fetch wait. Lifted by activation, or when half of the
   * limit is settled.
   */
  held = false;
  /** Aborted when the partition is revoked: cuts short waits for due times and in-consumer retries. */
  readonly revoked = new AbortController();
  /** Aborted when the partition is gone: stops retrying dead-letter publishes for it. */
  readonly gone = new AbortController();
  /** Timers holding fetched retry records until their due time. */
  readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending: number[] = [];
  private head = 0;
  private readonly settledAhead = new Set<number>();
  private idleWaiters: (() => void)[] = [];
  private activeWaiters: (() => void)[] = [];
  private drainWaiter: { readonly below: number; readonly wake: () => void } | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {
    this.key = partitionKey(topic, partition);
  }

  /** Starts delivering from `offset` (the committed position), with the retry marks read with it. */
  activate(offset: number, retries: ReadonlyMap<number, RetryMark>): void {
    this.next = offset;
    for (const [at, mark] of retries) if (at >= offset) this.retries.set(at, mark);
    this.phase = 'active';
    this.wake();
  }

  /** Resolves true once the partition is active, or false when `signal` aborts first. */
  whenActive(signal: AbortSignal): Promise<boolean> {
    if (this.phase === 'active') return Promise.resolve(true);
    return this.until(
      signal,
      (wake) => this.activeWaiters.push(wake),
      () => this.phase === 'active',
    );
  }

  /** Resolves true once at most `count` records are unsettled, or false when `signal` aborts first. */
  whenBufferedAtMost(count: number, signal: AbortSignal): Promise<boolean> {
    if (this.buffered <= count) return Promise.resolve(true);
    return this.until(
      signal,
      (wake) => {
        this.drainWaiter = { below: count, wake };
      },
      () => this.buffered <= count,
    );
  }

  /** Wakes what waits for activation, e.g. when the partition is revoked while loading. */
  wake(): void {
    const waiters = this.activeWaiters;
    this.activeWaiters = [];
    for (const wake of waiters) wake();
    const drain = this.drainWaiter;
    this.drainWaiter = undefined;
    drain?.wake();
  }

  private until(
    signal: AbortSignal,
    register: (wake: () => void) => void,
    done: () => boolean,
  ): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (): void => {
        signal.removeEventListener('abort', finish);
        resolve(done());
      };
      signal.addEventListener('abort', finish, { once: true });
      register(finish);
    });
  }

  /** Records a fetched record as unsettled. Offsets must grow. */
  accept(offset: number): void {
    this.pending.push(offset);
    this.buffered++;
    this.next = offset + 1;
  }

  /** Marks a record settled; the commit position moves past every settled record at the front. */
  settle(offset: number): void {
    this.buffered--;
    this.retries.delete(offset);
    if (this.drainWaiter !== undefined && this.buffered <= this.drainWaiter.below) {
      const { wake } = this.drainWaiter;
      this.drainWaiter = undefined;
      wake();
    }
    if (this.pending[this.head] !== offset) {
      this.settledAhead.add(offset);
      return;
    }
    this.head++;
    while (this.head < this.pending.length && this.settledAhead.delete(this.pending[this.head]!)) this.head++;
    if (this.head === this.pending.length) {
      this.pending.length = 0;
      this.head = 0;
    } else if (this.head > 1_024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The offset to commit: the lowest unsettled record, else the next one to fetch. */
  position(): number {
    return this.head < this.pending.length ? this.pending[this.head]! : this.next;
  }

  /** The metadata to commit with {@link position}. */
  metadata(): string {
    return encodeCommitMetadata(this.retries, this.position(), this.drain);
  }

  /** Stops the timers of records waiting for their due time: they are dropped. */
  clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Counts a record's handler chain as running. */
  enter(): void {
    this.running++;
  }

  /** Ends what {@link enter} began; wakes {@link idle} waiters at zero. */
  leave(): void {
    this.running--;
    if (this.running === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves when no handler chain of this partition runs. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
