import { ConfigError } from '../../errors';
import { whenAborted } from '../../internal/abort';
import { Deque } from '../../internal/deque';
import { checkInteger } from '../../internal/options';

interface Pushed<T> {
  readonly item: T;
  readonly seq: number;
}

/** Settings of {@link KeyedDispatcher}. */
export interface DispatcherOptions<T> {
  /** Most items running at once. */
  readonly concurrency: number;
  /**
   * Most items held at once, running or waiting to start ({@link KeyedDispatcher.room} counts
   * against it): the subscription's prefetch, at least `concurrency`. Default: `concurrency`.
   */
  readonly prefetch?: number;
  /** `'key'`: items of one key run one at a time, in the order they were pushed. */
  readonly ordering: 'key' | 'none';
  /** The ordering key of an item; `undefined` means the item waits for no other. */
  readonly keyOf: (item: T) => string | undefined;
  /**
   * Handles one item: typically calls the core's record handler and applies the settlement. The
   * dispatcher counts the item as running until the promise settles; a rejection is reported to
   * `onError` and otherwise treated like a resolution.
   */
  readonly run: (item: T) => Promise<void>;
  /** Called when `run` rejects (which a careful adapter never lets happen). */
  readonly onError?: (error: unknown, item: T) => void;
}

/**
 * Runs fetched records through a handler with a concurrency limit and, optionally, per-key
 * ordering: the common core of a pull-based adapter's consume loop. Adapters fetch while
 * {@link KeyedDispatcher.room} is above zero (up to the prefetch, so that the next items are here
 * when a handler finishes), push what they fetched, and await {@link KeyedDispatcher.idle} to
 * drain on close.
 *
 * @example
 * ```ts
 * const dispatcher = new KeyedDispatcher<Message>({
 *   concurrency: spec.concurrency,
 *   prefetch: spec.prefetch,
 *   ordering: spec.ordering,
 *   keyOf: (message) => message.key,
 *   run: async (message) => settle(message, await handler(toIncoming(message))),
 * });
 * while (running) {
 *   await dispatcher.whenRoom();
 *   for (const message of await fetch(dispatcher.room)) dispatcher.push(message);
 * }
 * ```
 */
export class KeyedDispatcher<T> {
  private readonly concurrency: number;
  private readonly prefetch: number;
  private readonly ordered: boolean;
  /** Items ready to start, and key tokens whose next item waits in `keyed`. */
  private readonly ready = new Deque<Pushed<T> | string>();
  private readonly keyed = new Map<string, Deque<Pushed<T>>>();
  private pushed = 0;
  private readonly busyKeys = new Set<string>();
  private running = 0;
  private waiting = 0;
  private idleWaiters: (() => void)[] = [];
  private roomWaiters: (() => void)[] = [];
  private pausedNow = false;

  constructor(private readonly options: DispatcherOptions<T>) {
    this.concurrency = checkInteger('concurrency', options.concurrency, 1);
    this.prefetch = checkInteger('prefetch', options.prefetch ?? this.concurrency, this.concurrency);
    if (options.ordering !== 'key' && options.ordering !== 'none') {
      throw new ConfigError('ordering', `must be 'key' or 'none', got ${String(options.ordering)}`);
    }
    this.ordered = options.ordering === 'key';
  }

  /** Items running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Items pushed and not yet started. */
  get queued(): number {
    return this.waiting;
  }

  /**
   * How many more items may be pushed before the dispatcher holds its prefetch (running and
   * waiting together): what a pull loop asks its broker for.
   */
  get room(): number {
    if (this.pausedNow) return 0;
    return Math.max(0, this.prefetch - this.running - this.waiting);
  }

  /** Whether {@link pause} holds the items back. */
  get paused(): boolean {
    return this.pausedNow;
  }

  /**
   * Starts no more items until {@link resume}: running ones go on, pushed ones wait, and
   * {@link room} is 0 so that a pull loop stops fetching. Idempotent. An adapter that would rather
   * give the waiting items back to its broker takes them with {@link drainQueued}.
   */
  pause(): void {
    this.pausedNow = true;
  }

  /** Undoes {@link pause}: waiting items start as the limits allow. Idempotent. */
  resume(): void {
    if (!this.pausedNow) return;
    this.pausedNow = false;
    this.pump();
    this.wake();
  }

  /** Adds an item; it starts as soon as the limits allow. */
  push(item: T): void {
    this.waiting++;
    const entry: Pushed<T> = { item, seq: this.pushed++ };
    const key = this.ordered ? this.options.keyOf(item) : undefined;
    if (key === undefined) {
      this.ready.push(entry);
    } else {
      let queue = this.keyed.get(key);
      if (queue === undefined) {
        queue = new Deque(4);
        this.keyed.set(key, queue);
      }
      if (queue.length === 0 && !this.busyKeys.has(key)) this.ready.push(key);
      queue.push(entry);
    }
    this.pump();
  }

  /** Resolves when there is room for at least one more item. */
  whenRoom(): Promise<void> {
    if (this.room > 0) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /**
   * Resolves when nothing is running or waiting, or as soon as `signal` aborts (a close that gives
   * up on the handlers in flight).
   */
  idle(signal?: AbortSignal): Promise<void> {
    if (this.running === 0 && this.waiting === 0) return Promise.resolve();
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    return signal === undefined ? idle : Promise.race([idle, whenAborted(signal)]);
  }

  /**
   * Removes the items that have not started, in push order, for an adapter that gives them back
   * to the broker (on pause, rebalance or close). Running items are not affected.
   */
  drainQueued(): T[] {
    const entries: Pushed<T>[] = [];
    for (const entry of this.ready) {
      if (typeof entry !== 'string') entries.push(entry);
    }
    for (const queue of this.keyed.values()) entries.push(...queue);
    entries.sort((a, b) => a.seq - b.seq);
    this.ready.removeWhere(() => true);
    for (const [key, queue] of this.keyed) {
      queue.removeWhere(() => true);
      if (!this.busyKeys.has(key)) this.keyed.delete(key);
    }
    this.waiting = 0;
    this.wake();
    return entries.map((entry) => entry.item);
  }

  private pump(): void {
    while (this.running < this.concurrency && !this.pausedNow) {
      const next = this.ready.shift();
      if (next === undefined) return;
      let item: T;
      let key: string | undefined;
      if (typeof next === 'string') {
        const queue = this.keyed.get(next);
        const queued = queue?.shift();
        if (queued === undefined) continue;
        item = queued.item;
        key = next;
        this.busyKeys.add(key);
      } else {
        item = next.item;
      }
      this.waiting--;
      this.running++;
      this.start(item, key);
    }
  }

  private start(item: T, key: string | undefined): void {
    let promise: Promise<void>;
    try {
      promise = this.options.run(item);
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      () => this.finish(key),
      (error: unknown) => {
        this.options.onError?.(error, item);
        this.finish(key);
      },
    );
  }

  private finish(key: string | undefined): void {
    this.running--;
    if (key !== undefined) {
      this.busyKeys.delete(key);
      const queue = this.keyed.get(key);
      if (queue === undefined || queue.length === 0) this.keyed.delete(key);
      else this.ready.push(key);
    }
    this.pump();
    this.wake();
  }

  private wake(): void {
    if (this.room > 0 && this.roomWaiters.length > 0) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const wake of waiters) wake();
    }
    if (this.running === 0 && this.waiting === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}
