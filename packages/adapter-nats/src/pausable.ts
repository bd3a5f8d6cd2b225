import { KeyedDispatcher, whenAborted } from '@tidings/core/adapter';

/**
 * Runs a subscription's records with its concurrency limit, and holds those that arrive while it
 * is paused. The server orders what needs ordering (JetStream hands a partition out one record at
 * a time; core NATS orders nothing), so this only limits concurrency.
 */
export class PausableDispatcher<T> {
  private readonly dispatcher: KeyedDispatcher<T>;
  private parked: T[] = [];
  private pausedNow = false;

  constructor(concurrency: number, run: (item: T) => Promise<void>) {
    this.dispatcher = new KeyedDispatcher<T>({ concurrency, ordering: 'none', keyOf: () => undefined, run });
  }

  get paused(): boolean {
    return this.pausedNow;
  }

  /** Records received and not started, parked ones included. */
  get waiting(): number {
    return this.dispatcher.queued + this.parked.length;
  }

  push(item: T): void {
    if (this.pausedNow) this.parked.push(item);
    else this.dispatcher.push(item);
  }

  /** Holds new records, and takes back those that were waiting for a handler. */
  pause(): void {
    if (this.pausedNow) return;
    this.pausedNow = true;
    this.parked.push(...this.dispatcher.drainQueued());
  }

  resume(): void {
    if (!this.pausedNow) return;
    this.pausedNow = false;
    const parked = this.parked;
    this.parked = [];
    for (const item of parked) this.dispatcher.push(item);
  }

  /** Removes every record no handler has started, oldest first. */
  takeWaiting(): T[] {
    const waiting = [...this.parked, ...this.dispatcher.drainQueued()];
    this.parked = [];
    return waiting;
  }

  /** Resolves when no handler runs and nothing waits, or when `signal` aborts. */
  idle(signal: AbortSignal | undefined): Promise<void> {
    const idle = this.dispatcher.idle();
    return signal === undefined ? idle : Promise.race([idle, whenAborted(signal)]);
  }
}
