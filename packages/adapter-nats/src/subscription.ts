import {
  type AdapterSubscription,
  type CloseOptions,
  type DeadLetterSettlement,
  type IncomingRecord,
  KeyedDispatcher,
  type RecordHandler,
  type Settlement,
  type SettlementObserver,
  type SubscribeSpec,
  type SubscriptionState,
  settlementOf,
  toError,
  whenAborted,
} from '@tidings/core/adapter';
import type { Link } from './connection';
import type { Reduced } from './dead-letters';
import { isTidings, isTooLarge } from './errors';

/** The first wait before a settlement that failed is tried again, in milliseconds. */
const FIRST_BACKOFF_MS = 1_000;
/** The longest wait between two tries. */
const MAX_BACKOFF_MS = 30_000;

/** How long to wait before the `failures + 1`th try of a settlement: 1 s, doubling, at most 30 s. */
function settlementBackoff(failures: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, failures - 1));
}

/** A subscription of either mode, as its adapter tracks it: it registers with the server in `start`. */
export interface StartableSubscription extends AdapterSubscription {
  start(): Promise<void>;
  close(options?: CloseOptions): Promise<void>;
}

/** What the core asked of a subscription, and what its adapter does once it has closed. */
export interface SubscriptionParts {
  readonly spec: SubscribeSpec;
  readonly handler: RecordHandler;
  readonly observer: SettlementObserver | undefined;
  /** The adapter forgets the subscription. */
  readonly onClosed: () => void;
}

/**
 * What a subscription of either mode does the same way: runs the records it received through the
 * handler with the concurrency limit, pauses and resumes, keeps its last error for health reports,
 * waits (a retry's delay, a dead letter's backoff) in a way a close can cut short, and tries a dead
 * letter until it lands. Each mode's subscription adds how it receives records and how it settles
 * them: `core-nats/subscription.ts`, `jetstream/subscription.ts`.
 */
export abstract class NatsSubscription<TItem> implements StartableSubscription {
  protected readonly spec: SubscribeSpec;
  private readonly handler: RecordHandler;
  private readonly observer: SettlementObserver | undefined;
  private readonly onClosed: () => void;
  /**
   * The records received and not yet settled. The server orders what needs ordering (a JetStream
   * group ordered by key reads each partition one record at a time; core NATS orders nothing), so
   * the dispatcher only limits concurrency.
   */
  protected readonly work: KeyedDispatcher<TItem>;
  /** Stops the waits in progress, at a close. */
  private readonly waits = new Set<() => void>();
  private waitsStopped = false;
  private closing: Promise<void> | undefined;
  private closed = false;
  /** Pulling cannot go on by itself (the consumer was deleted): health reports say `failed`. */
  protected failed = false;
  private error: Error | undefined;

  constructor(
    protected readonly link: Link,
    parts: SubscriptionParts,
  ) {
    this.spec = parts.spec;
    this.handler = parts.handler;
    this.observer = parts.observer;
    this.onClosed = parts.onClosed;
    this.work = new KeyedDispatcher<TItem>({
      concurrency: parts.spec.concurrency,
      ordering: 'none',
      keyOf: () => undefined,
      run: (item) => this.run(item),
    });
  }

  get state(): SubscriptionState {
    if (this.closed || this.closing !== undefined) return 'closed';
    if (this.work.paused) return 'paused';
    if (this.link.state === 'reconnecting') return 'reconnecting';
    return this.failed ? 'failed' : 'running';
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /** Whether `close()` was called. */
  protected get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /** Registers with the server; the adapter calls it once, right after making the subscription. */
  abstract start(): Promise<void>;

  /** Handles one record received, and settles it. */
  protected abstract run(item: TItem): Promise<void>;

  /**
   * Stops receiving, settles or gives back what the subscription holds, and waits for the handlers
   * in flight (or for `signal` to abort).
   */
  protected abstract drain(signal: AbortSignal | undefined): Promise<void>;

  pause(): void {
    if (this.closing === undefined) this.work.pause();
  }

  resume(): void {
    if (this.closing === undefined) this.work.resume();
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.drain(options.signal).then(() => {
      this.closed = true;
      this.onClosed();
    });
    return this.closing;
  }

  /** What the handler decided; `RETRY_NOW` when it broke its promise and rejected. */
  protected handle(record: IncomingRecord): Promise<Settlement> {
    return settlementOf(this.handler, record);
  }

  /** Keeps a problem for health reports, without the connection's secrets. */
  report(error: Error, fatal = false): void {
    this.error = isTidings(error) ? error : this.link.redactor.error(error);
    if (fatal) this.failed = true;
  }

  /** Resolves when no handler runs and nothing waits, or when `signal` aborts. */
  protected idle(signal: AbortSignal | undefined): Promise<void> {
    const idle = this.work.idle();
    return signal === undefined ? idle : Promise.race([idle, whenAborted(signal)]);
  }

  /** Resolves true after `ms`, or false at once once {@link stopWaits} was called. */
  protected wait(ms: number): Promise<boolean> {
    if (this.waitsStopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const stop = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.waits.delete(stop);
        resolve(true);
      }, ms);
      this.waits.add(stop);
    });
  }

  /** Ends every wait in progress, and every later one at once: the subscription is closing. */
  protected stopWaits(): void {
    this.waitsStopped = true;
    for (const stop of this.waits) stop();
    this.waits.clear();
  }

  /**
   * Publishes a dead letter until it lands: a copy the server refuses for its size is sent again
   * minimal, once; one that cannot be published is tried again after 1 s, 2 s, 4 s… up to 30 s,
   * its real reason kept. The observer hears of the first failure, and of the landing (after
   * `landed`, which settles the original). Resolves false when it gave up: `keepTrying` said no,
   * or the subscription is closing.
   */
  protected async deadLetter(
    record: IncomingRecord,
    settlement: DeadLetterSettlement,
    publish: (minimal: boolean) => Promise<Reduced>,
    landed: () => void = () => undefined,
    keepTrying: () => boolean = () => true,
  ): Promise<boolean> {
    let minimal = false;
    let failures = 0;
    for (;;) {
      try {
        const reduced = await publish(minimal);
        landed();
        this.observer?.deadLettered(record, { topic: settlement.topic, reason: settlement.reason, reduced });
        return true;
      } catch (thrown) {
        if (!minimal && isTooLarge(thrown)) {
          minimal = true;
          continue;
        }
        const error = toError(thrown);
        this.report(error);
        failures++;
        if (failures === 1) this.observer?.settlementFailed(record, settlement, error);
        if (!keepTrying() || !(await this.wait(settlementBackoff(failures)))) return false;
      }
    }
  }
}
