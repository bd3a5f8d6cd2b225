import type { Span } from '@opentelemetry/api';
import type {
  AdapterSubscription,
  BrokerAdapter,
  IncomingRecord,
  Settlement,
  SettlementObserver,
  SubscribeSpec,
  SubscriptionState,
} from '../adapters/contract';
import { type ConsumerLag, reportsLag } from '../adapters/optional';
import type { ContextPublisher } from '../context/delivery';
import { DeliveryContext } from '../context/delivery';
import type { AnyEventContract } from '../contracts/define-event';
import { ClosedError, toError } from '../errors';
import { urlRedactor } from '../internal/redact';
import { clip } from '../internal/text';
import { type FailurePolicy, lastResortVerdict } from '../policies/failure';
import type { Pipeline } from '../policies/pipeline';
import type { BusTelemetry } from '../tracing/telemetry';
import type { LagSource } from '../tracing/telemetry-base';
import { runAsDelivery } from './delivery-scope';

/** A subscription's state in health reports: the adapter's states plus `pending` and `stopped`. */
export type SubscriptionStatus = 'pending' | SubscriptionState | 'stopping' | 'stopped';

/** The last failure a subscription met, for health reports. */
export interface ReportedError {
  readonly name: string;
  readonly message: string;
  /** ISO-8601 time. */
  readonly at: string;
}

/** Health of one subscription. */
export interface SubscriptionHealth {
  readonly group: string;
  readonly topics: readonly string[];
  readonly eventTypes: readonly string[];
  readonly state: SubscriptionStatus;
  /** Messages whose handler is running now. */
  readonly inFlight: number;
  /** The latest handler failure or broker error. */
  readonly lastError: ReportedError | undefined;
}

/**
 * A subscription as the application sees it: what `bus.subscribe` returns.
 *
 * @example
 * ```ts
 * const subscription = bus.subscribe(OrderPlaced, { group: 'email' }, sendConfirmation);
 * await subscription.ready; // registered with the broker
 * subscription.pause();     // e.g. while a downstream service is down
 * subscription.resume();
 * await subscription.stop();
 * ```
 */
export interface Subscription {
  readonly group: string;
  readonly topics: readonly string[];
  /** Resolves once the broker delivers to this subscription (after `bus.start()`). */
  readonly ready: Promise<void>;
  /** Stops fetching new messages; in-flight ones finish. */
  pause(): void;
  resume(): void;
  /** Drains in-flight handlers (up to the bus's drain timeout) and leaves the group. */
  stop(): Promise<void>;
  health(): SubscriptionHealth;
}

const ACK: Settlement = Object.freeze({ type: 'ack' });

/** @internal What a subscription runtime needs from its bus. */
export interface RuntimeDeps {
  readonly publisher: ContextPublisher;
  readonly drainTimeoutMs: number;
  /** The subscription's retry and dead-letter settings. */
  readonly failure: FailurePolicy;
  readonly telemetry: BusTelemetry;
  readonly onStopped: (runtime: SubscriptionRuntime) => void;
  /** Called as the drain begins, before the adapter subscription closes. */
  readonly onStopping?: (() => void) | undefined;
}

/** @internal Runs one subscription: owns its adapter subscription and its pipeline. */
export class SubscriptionRuntime implements Subscription, LagSource {
  readonly group: string;
  readonly topics: readonly string[];
  readonly ready: Promise<void>;
  private status: SubscriptionStatus = 'pending';
  private adapterSubscription: AdapterSubscription | undefined;
  /** The latest failure and when it came (`Date.now()`), made into a `ReportedError` when read. */
  private lastFailure: Error | undefined;
  private lastFailureAt = 0;
  private lastError: ReportedError | undefined;
  /** Deliveries whose handler is running now. */
  private handling = 0;
  /**
   * The deliveries among them that did not finish synchronously: only those can still be running
   * when the drain times out. One that finishes within `onRecord` is only counted, which spares
   * it two hash-set operations (a tenth of the pipeline's own cost, in profiles).
   */
  private readonly unfinished = new Set<DeliveryContext>();
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  private stopping: Promise<void> | undefined;
  private pausedByUser = false;
  /** The adapter error last copied into `lastError`. */
  private seenAdapterError: Error | undefined;
  /** Told when a handler finishes, while a `bus.stop()` called in a handler waits for the others. */
  private finishWatchers: (() => void)[] = [];

  constructor(
    readonly spec: SubscribeSpec,
    readonly contracts: readonly AnyEventContract[],
    private readonly run: Pipeline,
    private readonly deps: RuntimeDeps,
  ) {
    this.group = spec.group;
    this.topics = spec.topics;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // `ready` is awaited by choice; a failed start is also reported by bus.start() and health().
    this.ready.catch(() => undefined);
  }

  /** Registers with the broker. */
  async start(adapter: BrokerAdapter): Promise<void> {
    if (this.status !== 'pending') return this.ready;
    this.status = 'starting';
    try {
      this.adapterSubscription = await adapter.subscribe(this.spec, this.onRecord, this.observer);
      if (this.pausedByUser) this.adapterSubscription.pause();
      this.status = 'running';
      this.resolveReady();
    } catch (thrown) {
      const error = toError(thrown);
      this.status = 'failed';
      this.report(error);
      this.deps.telemetry.logger.log(
        'error',
        { group: this.group, topics: this.topics, err: error },
        `subscription of group "${this.group}" failed to start`,
      );
      this.rejectReady(error);
      throw error;
    }
  }

  private readonly onRecord = (record: IncomingRecord): Promise<Settlement> => {
    const ctx = new DeliveryContext(record, this.group, this.spec.maxAttempts, this.deps.publisher);
    this.handling++;
    const { telemetry } = this.deps;
    const span = telemetry.startProcess(ctx);
    const started = telemetry.clock();
    let running: Promise<void> | undefined;
    try {
      // Without a span, no closure per delivery (runAsDelivery showed in profiles).
      running =
        span === undefined
          ? runAsDelivery(ctx, this.run)
          : runAsDelivery(ctx, () => telemetry.within(span, this.run, ctx));
      if (running === undefined) {
        // Finished synchronously: the settlement is known now, and one promise carries it.
        this.handling--;
        return Promise.resolve(this.settled(ctx, span, started));
      }
    } catch (thrown) {
      running = Promise.reject(thrown);
    }
    this.unfinished.add(ctx);
    return running.then(
      () => {
        this.handling--;
        this.unfinished.delete(ctx);
        if (this.finishWatchers.length > 0) this.tellFinished();
        return this.settled(ctx, span, started);
      },
      (thrown: unknown) => {
        this.handling--;
        this.unfinished.delete(ctx);
        if (this.finishWatchers.length > 0) this.tellFinished();
        return this.escaped(ctx, thrown, span, started);
      },
    );
  };

  private tellFinished(): void {
    const watchers = this.finishWatchers;
    this.finishWatchers = [];
    for (const watcher of watchers) watcher();
  }

  /**
   * Resolves once every running handler of this subscription is one of `waiting`: the handlers
   * that called `bus.stop()` and cannot finish before it resolves.
   */
  async othersFinished(waiting: ReadonlySet<DeliveryContext>): Promise<void> {
    const othersRunning = (): boolean => {
      for (const ctx of this.unfinished) if (!waiting.has(ctx)) return true;
      return false;
    };
    while (othersRunning()) {
      await new Promise<void>((resolve) => this.finishWatchers.push(resolve));
    }
  }

  /** What the adapter tells of the settlements it applied, or could not. */
  private readonly observer: SettlementObserver = {
    deadLettered: (record, landed) => {
      this.deps.telemetry.deadLettered(record, this.group, landed);
    },
    settlementFailed: (record, settlement, error) => {
      this.report(error);
      this.deps.telemetry.settlementFailed(record, this.group, settlement, error);
    },
  };

  private settled(ctx: DeliveryContext, span: Span | undefined, started: number): Settlement {
    const settlement = ctx.settlement ?? ACK;
    if (ctx.error !== undefined) this.report(ctx.error);
    this.deps.telemetry.endProcess(ctx, settlement, ctx.error, span, started);
    return settlement;
  }

  // An error that got past the policies (thrown by bus middleware): the same failure decision as
  // a handler's, so it is neither lost nor redelivered in a tight loop. Should even that throw
  // (a dead-letter topic namer that fails), the record is retried after the longest delay.
  private escaped(
    ctx: DeliveryContext,
    thrown: unknown,
    span: Span | undefined,
    started: number,
  ): Settlement {
    const verdict = lastResortVerdict(ctx, thrown, this.deps.failure);
    this.report(verdict.error);
    this.deps.telemetry.endProcess(ctx, verdict.settlement, verdict.error, span, started);
    return verdict.settlement;
  }

  /** How far the group is behind, when the adapter's subscription can tell. */
  lag(): Promise<readonly ConsumerLag[]> | undefined {
    const subscription = this.adapterSubscription;
    return reportsLag(subscription) ? subscription.lag() : undefined;
  }

  // Every failed delivery reports here, health is read now and then: the report is written when
  // read. Writing it at once (redacting, and a Date's ISO string, ~1.5 µs here) was a profile line
  // of the poison path.
  private report(error: Error): void {
    this.lastFailure = error;
    this.lastFailureAt = Date.now();
    this.lastError = undefined;
  }

  private reportedError(): ReportedError | undefined {
    const error = this.lastFailure;
    if (this.lastError === undefined && error !== undefined) {
      // Health reports are read by people and dashboards: bounded, and without credentials.
      this.lastError = {
        name: clip(urlRedactor.text(error.name), 100),
        message: clip(urlRedactor.text(error.message), 1_000),
        at: new Date(this.lastFailureAt).toISOString(),
      };
    }
    return this.lastError;
  }

  pause(): void {
    this.pausedByUser = true;
    this.adapterSubscription?.pause();
  }

  resume(): void {
    this.pausedByUser = false;
    this.adapterSubscription?.resume();
  }

  stop(): Promise<void> {
    this.stopping ??= this.drain();
    return this.stopping;
  }

  private async drain(): Promise<void> {
    if (this.status === 'pending' || this.status === 'starting') {
      this.rejectReady(new ClosedError(`subscription of group "${this.group}" stopped before it started`));
    }
    this.status = 'stopping';
    this.deps.onStopping?.();
    const subscription = this.adapterSubscription;
    if (subscription !== undefined) {
      const signal = AbortSignal.timeout(this.deps.drainTimeoutMs);
      // Handlers still running when the drain time is up are told to stop through their signal;
      // their records stay unsettled and the broker redelivers them.
      const onTimeout = (): void => {
        const reason = new ClosedError(`bus stopped: drain of group "${this.group}" timed out`);
        const { telemetry } = this.deps;
        for (const ctx of this.unfinished) {
          telemetry.logger.log(
            'warn',
            telemetry.deliveryFields(ctx),
            `drain timed out after ${this.deps.drainTimeoutMs} ms; the handler is abandoned and the broker will redeliver the event`,
          );
          ctx.abort(reason);
        }
      };
      signal.addEventListener('abort', onTimeout, { once: true });
      try {
        await subscription.close({ signal });
      } finally {
        signal.removeEventListener('abort', onTimeout);
      }
    }
    this.status = 'stopped';
    this.deps.onStopped(this);
  }

  health(): SubscriptionHealth {
    let state: SubscriptionStatus = this.status;
    if (state === 'running' && this.adapterSubscription !== undefined) state = this.adapterSubscription.state;
    // The adapter's last error shows whatever the state: a subscription can be running and yet
    // failing on every dead letter. Whichever of its error and the handlers' came last is shown.
    const adapterError = this.adapterSubscription?.lastError;
    if (adapterError !== undefined && adapterError !== this.seenAdapterError) {
      this.seenAdapterError = adapterError;
      this.report(adapterError);
    }
    return {
      group: this.group,
      topics: this.topics,
      eventTypes: this.contracts.map((c) => c.type),
      state,
      inFlight: this.handling,
      lastError: this.reportedError(),
    };
  }
}
