import type { BrokerAdapter } from '../adapters/contract';
import { checkOptionNames, type OptionNames } from '../adapters/kit/option-names';
import type { Bus } from '../bus/options';
import { ClosedError, ConfigError, isTidingsError, toError } from '../errors';
import { checkInteger, definedOnly } from '../internal/options';
import { type Logger, resolveLogger, type SafeLogger } from '../logging/logger';
import {
  backoffDelay,
  type ResolvedRetryOptions,
  type RetryOptions,
  resolveRetryOptions,
} from '../policies/retry';
import type { TelemetryOptions } from '../tracing/options';
import { createPreparedPublisher, type PreparedPublisher } from '../tracing/prepared-publisher';
import type { OutboxClaim, OutboxRecord, OutboxStats, OutboxStore, OutboxWatch } from './store';

/**
 * How long the relay waits after a failure: exponential, capped, with jitter.
 *
 * @example
 * ```ts
 * const backoff: OutboxBackoffOptions = { initialDelayMs: 500, maxDelayMs: 60_000 };
 * ```
 */
export type OutboxBackoffOptions = Pick<
  RetryOptions,
  'initialDelayMs' | 'maxDelayMs' | 'multiplier' | 'jitter'
>;

/** Settings of {@link createOutboxRelay}. */
export interface OutboxRelayOptions {
  /** The outbox to drain. */
  readonly store: OutboxStore;
  /** The bus whose adapter publishes the records. Give this or `adapter`. */
  readonly bus?: Bus;
  /** The adapter that publishes the records. Give this or `bus`. The relay never closes it. */
  readonly adapter?: BrokerAdapter;
  /** Most records claimed and published in one call to the broker. Default 100. */
  readonly batchSize?: number;
  /**
   * Batches in flight at once. The store keeps per-key order across them as it does across
   * relays; each one holds a database connection with a database store. Default 1.
   */
  readonly concurrency?: number;
  /**
   * How often to look for records when nothing woke the relay, in milliseconds. With a store
   * that notifies (`watch`), this is only the safety net. Default 1,000.
   */
  readonly pollIntervalMs?: number;
  /**
   * Pause after a failed publish or store call, growing while failures go on.
   * Default: 100 ms doubling up to 30 s, 20 % jitter.
   */
  readonly backoff?: OutboxBackoffOptions;
  /** How often to delete sent records past the store's retention, in milliseconds. Default 60,000. */
  readonly pruneIntervalMs?: number;
  /** Stops the relay when aborted, like {@link OutboxRelay.stop}. */
  readonly signal?: AbortSignal;
  /**
   * Told about every failure: a publish the broker refused, a store call that failed, a record
   * parked as unpublishable. The relay goes on by itself; this is for logs and alerts.
   */
  readonly onError?: (error: Error, context: OutboxRelayErrorContext) => void;
  /**
   * Where every failure is written (publish and store failures as `warn`, parked records as
   * `error`), bounded and without credentials like the bus's own lines: a record the broker will
   * not take (RabbitMQ with no queue bound to its topic, say) never goes on without a word. A pino
   * logger or `console` fits. Default: `console`, or silent when `onError` is given.
   */
  readonly logger?: Logger;
  /**
   * Traces and metrics of what the relay sends: a `publish` span per batch, linked to the trace
   * of the request that wrote each event, and the sent-messages counter. `false` turns them off.
   * Default: the global OpenTelemetry providers (no-ops without an SDK).
   */
  readonly telemetry?: TelemetryOptions | false;
}

/**
 * What failed, for {@link OutboxRelayOptions.onError}.
 *
 * @example
 * ```ts
 * createOutboxRelay({
 *   store, bus,
 *   onError: (error, { during, records }) => logger.warn({ during, ids: records.map((r) => r.id) }, error.message),
 * });
 * ```
 */
export interface OutboxRelayErrorContext {
  /** `publish`: the broker refused a batch; `store`: the outbox failed; `parked`: a record will never be sent. */
  readonly during: 'publish' | 'store' | 'parked';
  /** The records concerned, when there are some. */
  readonly records: readonly OutboxRecord[];
}

/**
 * What a relay is doing: `backingOff` after a failure, `idle` before `start`.
 *
 * @example
 * ```ts
 * if (relay.state === 'backingOff') console.warn('the broker or the outbox is failing');
 * ```
 */
export type OutboxRelayState = 'idle' | 'running' | 'backingOff' | 'stopping' | 'stopped';

/**
 * The relay's metrics: its own counters and the store's state.
 *
 * @example
 * ```ts
 * const { lagMs, pending, failed, consecutiveFailures } = await relay.stats();
 * if (lagMs > 60_000) alert(`outbox lag ${lagMs} ms, ${pending} pending`);
 * ```
 */
export interface OutboxRelayStats extends OutboxStats {
  readonly state: OutboxRelayState;
  /** Records this relay published since it started. */
  readonly published: number;
  /** Batches this relay published since it started. */
  readonly batches: number;
  /** Publish attempts the broker refused (or store calls that failed) since the relay started. */
  readonly failures: number;
  /** Failures in a row; 0 once a batch goes through. */
  readonly consecutiveFailures: number;
  /** The last failure, if any. */
  readonly lastError: Error | undefined;
}

/**
 * Publishes what an outbox holds to the broker, in batches, until stopped.
 *
 * @example
 * ```ts
 * const relay = createOutboxRelay({ store: outbox, bus });
 * await relay.start();
 * process.once('SIGTERM', () => void relay.stop());
 * ```
 */
export interface OutboxRelay {
  readonly state: OutboxRelayState;
  /**
   * Starts the loop and resolves at once: a broker or database that is down does not fail
   * `start`, the relay backs off and keeps trying (see `stats()` and `onError`). Idempotent.
   */
  start(): Promise<void>;
  /**
   * Stops the loop: batches in flight finish publishing and are settled, then the watch on the
   * store is closed. Resolves once all that is done. Idempotent.
   */
  stop(): Promise<void>;
  /** Looks for records now rather than at the next poll or notification. */
  wake(): void;
  /** Counters of this relay and the store's lag, pending and failed counts. */
  stats(): Promise<OutboxRelayStats>;
}

const RELAY_OPTION_NAMES: OptionNames<OutboxRelayOptions> = {
  store: true,
  bus: true,
  adapter: true,
  batchSize: true,
  concurrency: true,
  pollIntervalMs: true,
  backoff: true,
  pruneIntervalMs: true,
  signal: true,
  onError: true,
  logger: true,
  telemetry: true,
};

const BACKOFF_OPTION_NAMES: OptionNames<OutboxBackoffOptions> = {
  initialDelayMs: true,
  maxDelayMs: true,
  multiplier: true,
  jitter: true,
};

const DEFAULT_BACKOFF: OutboxBackoffOptions = {
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
};

class Relay implements OutboxRelay {
  private readonly store: OutboxStore;
  private readonly adapter: BrokerAdapter;
  private readonly send: PreparedPublisher;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private readonly pruneIntervalMs: number;
  private readonly backoff: ResolvedRetryOptions;
  private readonly onError: OutboxRelayOptions['onError'];
  private readonly logger: SafeLogger;
  private readonly signal: AbortSignal | undefined;

  private current: OutboxRelayState = 'idle';
  private running: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private watch: OutboxWatch | undefined;
  private connected = false;
  // Wake-ups: `wakes` counts them, so a worker that was busy when one came does not go to sleep.
  private wakes = 0;
  private wakeWaiters: (() => void)[] = [];
  private resumeAt = 0;
  private published = 0;
  private batches = 0;
  private failures = 0;
  private consecutiveFailures = 0;
  private lastError: Error | undefined;
  private lastPrune = 0;

  constructor(options: OutboxRelayOptions) {
    checkOptionNames(options, RELAY_OPTION_NAMES);
    checkOptionNames(options?.backoff, BACKOFF_OPTION_NAMES, 'backoff');
    const store = options?.store;
    if (store === undefined || typeof store.claim !== 'function') {
      throw new ConfigError('store', 'an OutboxStore is required');
    }
    if ((options.bus === undefined) === (options.adapter === undefined)) {
      throw new ConfigError('adapter', 'give either a bus or an adapter to publish through');
    }
    this.store = store;
    this.adapter = options.adapter ?? options.bus!.adapter;
    this.send = createPreparedPublisher(this.adapter, options.telemetry);
    const prefix = this.adapter.capabilities.headerPrefix;
    if (store.headerPrefix !== undefined && store.headerPrefix !== prefix) {
      throw new ConfigError(
        'adapter',
        `the outbox holds records encoded for header prefix "${store.headerPrefix}" but the ${this.adapter.name} ` +
          `adapter uses "${prefix}"; its consumers could not decode them. Encode with a bus on the same adapter.`,
      );
    }
    this.batchSize = checkInteger('batchSize', options.batchSize ?? 100, 1);
    this.concurrency = checkInteger('concurrency', options.concurrency ?? 1, 1);
    this.pollIntervalMs = checkInteger('pollIntervalMs', options.pollIntervalMs ?? 1_000, 1);
    this.pruneIntervalMs = checkInteger('pruneIntervalMs', options.pruneIntervalMs ?? 60_000, 1);
    this.backoff = resolveRetryOptions(
      { ...DEFAULT_BACKOFF, ...definedOnly(options.backoff ?? {}) },
      'backoff',
    );
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new ConfigError('onError', 'must be a function');
    }
    this.onError = options.onError;
    this.logger = resolveLogger(options.logger ?? (options.onError === undefined ? console : undefined));
    this.signal = options.signal;
  }

  get state(): OutboxRelayState {
    return this.current;
  }

  async start(): Promise<void> {
    if (this.stopping !== undefined) throw new ClosedError('cannot start a stopped outbox relay');
    if (this.running !== undefined) return;
    if (this.signal?.aborted) {
      this.current = 'stopped';
      return;
    }
    this.current = 'running';
    this.watch = this.store.watch?.(() => this.wake());
    this.signal?.addEventListener('abort', () => void this.stop(), { once: true });
    const workers = Array.from({ length: this.concurrency }, () => this.work());
    this.running = Promise.all(workers).then(() => undefined);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.running === undefined) {
        this.current = 'stopped';
        return;
      }
      this.current = 'stopping';
      this.releaseWaiters();
      await this.running;
      await this.watch?.close().catch(() => undefined);
      this.current = 'stopped';
    })();
    return this.stopping;
  }

  wake(): void {
    this.wakes++;
    this.releaseWaiters();
  }

  async stats(): Promise<OutboxRelayStats> {
    const store = await this.store.stats();
    return {
      ...store,
      state: this.current,
      published: this.published,
      batches: this.batches,
      failures: this.failures,
      consecutiveFailures: this.consecutiveFailures,
      lastError: this.lastError,
    };
  }

  private get stopped(): boolean {
    return this.current === 'stopping' || this.current === 'stopped';
  }

  private releaseWaiters(): void {
    const waiters = this.wakeWaiters;
    this.wakeWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Sleeps until `ms` passed, a wake-up came (when `wakeable`), or the relay stops. */
  private sleep(ms: number, wakeable: boolean, seenWakes: number): Promise<void> {
    if (this.stopped || ms <= 0 || (wakeable && this.wakes !== seenWakes)) return Promise.resolve();
    return new Promise((resolve) => {
      let waiter: (() => void) | undefined;
      const timer = setTimeout(() => {
        if (waiter !== undefined) this.wakeWaiters = this.wakeWaiters.filter((w) => w !== waiter);
        resolve();
      }, ms);
      // Only a stop may cut a backoff short; a wake-up would hammer a broker that is down.
      waiter = () => {
        if (!wakeable && !this.stopped) {
          this.wakeWaiters.push(waiter!);
          return;
        }
        clearTimeout(timer);
        resolve();
      };
      this.wakeWaiters.push(waiter);
    });
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      const wait = this.resumeAt - Date.now();
      if (wait > 0) {
        this.current = 'backingOff';
        await this.sleep(wait, false, this.wakes);
        if (this.stopped) break;
        this.current = 'running';
      }
      const seenWakes = this.wakes;
      const worked = await this.round();
      if (!worked && !this.stopped && this.resumeAt <= Date.now()) {
        await this.sleep(this.pollIntervalMs, true, seenWakes);
      }
    }
  }

  /**
   * One claim, publish and settle; resolves whether records went out, in which case more may be
   * waiting (a batch can be short because other relays hold some keys, not only because the
   * outbox is empty), so the worker claims again at once.
   */
  private async round(): Promise<boolean> {
    await this.maybePrune();
    // Connect until it worked once; after that the adapter reconnects by itself, unless it gave up.
    if (!this.connected || this.adapter.state === 'failed') {
      try {
        await this.adapter.connect();
        this.connected = true;
      } catch (error) {
        this.fail(toError(error), 'publish', []);
        return false;
      }
    }
    let claim: OutboxClaim | undefined;
    try {
      claim = await this.store.claim(this.batchSize);
    } catch (error) {
      this.fail(toError(error), 'store', []);
      return false;
    }
    if (claim === undefined) return false;
    const records = claim.records;
    const { sent, failed, error } = await this.publish(records);
    try {
      await claim.settle(error === undefined ? { sent, failed } : { sent, failed, error });
    } catch (settleError) {
      // The records went out but were not marked: they will go again (duplicates, not loss).
      this.fail(toError(settleError), 'store', records);
      return false;
    }
    this.published += sent.length;
    if (sent.length > 0) this.batches++;
    for (const { id, error: reason } of failed) {
      this.report(
        reason,
        'parked',
        records.filter((r) => r.id === id),
      );
    }
    if (error !== undefined) {
      this.fail(error, 'publish', records);
      return false;
    }
    this.consecutiveFailures = 0;
    return true;
  }

  private async publish(records: readonly OutboxRecord[]): Promise<{
    sent: string[];
    failed: { id: string; error: Error }[];
    error: Error | undefined;
  }> {
    try {
      await this.send(records.map((r) => r.record));
      return { sent: records.map((r) => r.id), failed: [], error: undefined };
    } catch (thrown) {
      const error = toError(thrown);
      if (!isPermanent(error)) return { sent: [], failed: [], error };
    }
    // Some record will never be accepted: find it by publishing one at a time, in order, so that
    // the others still go out and keep their per-key order.
    const sent: string[] = [];
    const failed: { id: string; error: Error }[] = [];
    for (const pending of records) {
      try {
        await this.send([pending.record]);
        sent.push(pending.id);
      } catch (thrown) {
        const error = toError(thrown);
        if (!isPermanent(error)) return { sent, failed, error };
        failed.push({ id: pending.id, error });
      }
    }
    return { sent, failed, error: undefined };
  }

  private async maybePrune(): Promise<void> {
    if (this.store.prune === undefined || Date.now() - this.lastPrune < this.pruneIntervalMs) return;
    this.lastPrune = Date.now();
    try {
      await this.store.prune();
    } catch (error) {
      this.report(toError(error), 'store', []);
    }
  }

  private fail(error: Error, during: OutboxRelayErrorContext['during'], records: readonly OutboxRecord[]) {
    this.failures++;
    this.consecutiveFailures++;
    this.resumeAt = Date.now() + backoffDelay(this.consecutiveFailures, this.backoff);
    this.report(error, during, records);
  }

  private report(error: Error, during: OutboxRelayErrorContext['during'], records: readonly OutboxRecord[]) {
    this.lastError = error;
    if (this.logger.enabled) {
      const ids = records.slice(0, 10).map((r) => r.id);
      const fields = { adapter: this.adapter.name, during, records: records.length, ids, err: error };
      if (during === 'parked') {
        this.logger.log(
          'error',
          fields,
          `outbox relay parked a record the broker will never take: ${error.message}`,
        );
      } else {
        const what =
          during === 'publish' ? `could not publish ${records.length} record(s)` : 'outbox store failed';
        this.logger.log(
          'warn',
          fields,
          `outbox relay ${what}; they stay in the outbox and are tried again after a backoff: ${error.message}`,
        );
      }
    }
    try {
      this.onError?.(error, { during, records });
    } catch {
      // A failing error callback must not stop the relay.
    }
  }
}

// Errors that say retrying cannot help (an oversize record): the record is parked.
function isPermanent(error: Error): boolean {
  return isTidingsError(error) && !error.retryable;
}

/**
 * Creates a relay that publishes what an outbox holds: it claims a batch of pending records,
 * publishes them through the adapter in one call and marks them sent, over and over. It wakes up
 * when the store reports a write (PostgreSQL `LISTEN/NOTIFY`, the memory outbox), polls
 * otherwise, and backs off exponentially while the broker or the store fails, losing nothing:
 * records leave the outbox only once the broker has accepted them. Several relays (processes)
 * may drain one store at once; the store keeps per-key order between them.
 *
 * @example
 * ```ts
 * const relay = createOutboxRelay({ store: outbox, bus, batchSize: 200 });
 * await relay.start();
 * process.on('SIGTERM', () => void relay.stop());
 * const { lagMs, pending } = await relay.stats();
 * ```
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  return new Relay(options);
}
