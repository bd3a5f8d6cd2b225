// Batch consumption: many events per handler call. The batch is formed here, in core, from the
// deliveries the adapter hands over one by one, so every adapter gets it. Each event still goes
// through the single-event pipeline (attempt check, decode, bus middleware, idempotency,
// telemetry); only its last step, the handler, is replaced by "join the batch and wait for its
// verdict". So a failed event meets the one failure decision (`decideFailure`) like any other.
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { checkOptionNames, type OptionNames } from '../adapters/kit/option-names';
import type { DeliveryContext, Handler, MessageContext, ReceivedEvent } from '../context/delivery';
import { ConfigError, TimeoutError } from '../errors';
import { checkInteger } from '../internal/options';
import { isThenable } from '../internal/thenable';
import { runAsDelivery } from './delivery-scope';

/**
 * How events are gathered into batches.
 *
 * @example
 * ```ts
 * const batch: BatchOptions = { maxSize: 500, maxWaitMs: 50 };
 * bus.subscribeBatch(OrderPlaced, { group: 'order-stats', batch }, (events) => {
 *   console.log(`${events.length} orders, first ${events[0].id}`);
 * });
 * ```
 */
export interface BatchOptions {
  /** Most events in one handler call. Also the subscription's prefetch. Default 100, at most 10,000. */
  readonly maxSize?: number;
  /**
   * How long a partial batch waits for more events after its first one arrived, in milliseconds,
   * before the handler gets it as it is. Default 50, at most 60,000.
   */
  readonly maxWaitMs?: number;
}

/** @internal Batch options with their defaults filled in and checked. */
export interface ResolvedBatchOptions {
  readonly maxSize: number;
  readonly maxWaitMs: number;
}

const BATCH_OPTION_NAMES: OptionNames<BatchOptions> = { maxSize: true, maxWaitMs: true };
const DEFAULT_MAX_SIZE = 100;
const DEFAULT_MAX_WAIT_MS = 50;

/** @internal Fills in the defaults of `options` and checks them, naming a bad field. */
export function resolveBatchOptions(options: BatchOptions | undefined): ResolvedBatchOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new ConfigError('batch', 'must be an object like { maxSize: 100, maxWaitMs: 50 }');
  }
  checkOptionNames(options, BATCH_OPTION_NAMES, 'batch');
  return {
    maxSize: checkInteger('batch.maxSize', options?.maxSize ?? DEFAULT_MAX_SIZE, 1, 10_000),
    maxWaitMs: checkInteger('batch.maxWaitMs', options?.maxWaitMs ?? DEFAULT_MAX_WAIT_MS, 0, 60_000),
  };
}

/**
 * What a batch handler gets beside its events: per-event settlement, the abort signal of the
 * whole call and each event's delivery context.
 *
 * @example
 * ```ts
 * // Your search client's bulk call: one outcome per document, in the order given.
 * declare function indexAll(
 *   documents: readonly unknown[],
 *   options: { signal: AbortSignal },
 * ): Promise<{ ok: boolean; reason: string }[]>;
 *
 * bus.subscribeBatch(OrderPlaced, { group: 'search-index' }, async (events, batch) => {
 *   const outcomes = await indexAll(events.map((event) => event.data), { signal: batch.signal });
 *   outcomes.forEach((outcome, i) => {
 *     if (!outcome.ok) batch.fail(events[i]!, new Error(outcome.reason));
 *   });
 * });
 * ```
 */
export interface BatchContext<TEvent extends ReceivedEvent = ReceivedEvent> {
  /** The consumer group handling the batch. */
  readonly group: string;
  /**
   * Aborted when the handler call times out (the subscription's `timeoutMs`, over the whole
   * call) or the bus stops before it finished. Pass it to the bulk call.
   */
  readonly signal: AbortSignal;
  /** The delivery context of each event, in the order of the events. */
  readonly contexts: readonly MessageContext<TEvent>[];
  /** The delivery context of one event of the batch (its attempt, record, broker position). */
  contextOf(event: TEvent): MessageContext<TEvent>;
  /**
   * Fails one event of the batch: once the handler returns, it is retried with backoff or
   * dead-lettered (non-retryable error, or attempts used up), by the same rule as a handler that
   * throws on a single event. Events not failed are acknowledged. Calls after the handler
   * returned (or timed out) change nothing: the batch is settled by then.
   */
  fail(event: TEvent, error: unknown): void;
}

/**
 * A batch handler: receives a non-empty array of events in the order the broker delivered them.
 * Throwing fails every event it did not fail itself through `batch.fail`.
 */
export type BatchHandler<TEvent extends ReceivedEvent = ReceivedEvent> = (
  events: readonly [TEvent, ...TEvent[]],
  batch: BatchContext<TEvent>,
) => unknown;

/**
 * The batch being gathered. Its events share one promise, `verdict`, when the collector can set
 * each event's own outcome on its context (see {@link BatchCollectorOptions.decide}); otherwise
 * each event waits on a promise of its own, in `waiters`.
 */
interface OpenBatch {
  readonly events: ReceivedEvent[];
  readonly contexts: MessageContext[];
  readonly verdict: Promise<void> | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly waiters: { resolve: () => void; reject: (error: unknown) => void }[] | undefined;
}

/**
 * The deliveries of each running batch, by its first one (the delivery its handler runs as); see
 * {@link deliveriesOfBatch}. One entry per batch, not per event: weak-map entries are costly to
 * make and to collect.
 */
const batchOf = new WeakMap<DeliveryContext, readonly DeliveryContext[]>();

/**
 * @internal The deliveries handled in one call with `ctx`: its batch, or `ctx` alone. A batch
 * handler that calls `bus.stop()` is recognised as its first delivery; the stop must wait for none
 * of the batch's deliveries, which cannot finish before the handler returns.
 */
export function deliveriesOfBatch(ctx: DeliveryContext): readonly DeliveryContext[] {
  return batchOf.get(ctx) ?? [ctx];
}

/** @internal Settings of a {@link BatchCollector}. */
export interface BatchCollectorOptions extends ResolvedBatchOptions {
  readonly group: string;
  /** Handler timeout over the whole batch call, in milliseconds, or `false` for none. */
  readonly timeoutMs: number | false;
  // biome-ignore lint/suspicious/noExplicitAny: typed by subscribeBatch's signature.
  readonly handler: BatchHandler<any>;
  /**
   * Sets the outcome of one failed event on its context, by the one failure decision, when
   * nothing between the pipeline's failure decision and the handler (idempotency, the
   * subscription's middleware) needs to see each event's own rejection. With it, a batch's events
   * share one promise, which spares each event a promise and two closures (their garbage was a
   * large part of what a batched event cost beyond a single one); without it, each event waits
   * on a promise of its own.
   */
  readonly decide?: ((ctx: MessageContext, error: unknown) => void) | undefined;
}

/**
 * @internal Gathers deliveries into batches for one subscription. {@link join} is the pipeline's
 * handler: it adds the event to the open batch and returns a promise that settles with that
 * event's verdict, so the pipeline around it (failure decision, idempotency, telemetry) works as
 * for a single event. A batch is handed to the handler when it is full, when `maxWaitMs` has
 * passed since its first event, or when the subscription stops; the wait bound is what keeps a
 * batch from waiting forever on deliveries the adapter holds back (per-key order, prefetch).
 */
export class BatchCollector {
  private open: OpenBatch | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: BatchCollectorOptions) {}

  readonly join: Handler = (event, ctx) => {
    const open = this.open ?? this.openBatch();
    open.events.push(event);
    open.contexts.push(ctx);
    const verdict =
      open.verdict ?? new Promise<void>((resolve, reject) => open.waiters!.push({ resolve, reject }));
    if (open.events.length >= this.options.maxSize) this.flush();
    else if (open.events.length === 1) this.timer = setTimeout(this.flush, this.options.maxWaitMs);
    return verdict;
  };

  private openBatch(): OpenBatch {
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    let verdict: Promise<void> | undefined;
    if (this.options.decide === undefined) {
      // Each event waits on a promise of its own, in `waiters`: there is no shared one to settle.
      resolve = reject = () => undefined;
    } else {
      verdict = new Promise<void>((ok, fail) => {
        resolve = ok;
        reject = fail;
      });
    }
    const waiters = verdict === undefined ? [] : undefined;
    const open: OpenBatch = { events: [], contexts: [], verdict, resolve, reject, waiters };
    this.open = open;
    return open;
  }

  /** Hands the open batch, if any, to the handler now. */
  readonly flush = (): void => {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const open = this.open;
    if (open === undefined) return;
    this.open = undefined;
    // Outside any delivery's trace context: the call serves many events, and each has its own
    // process span (kept per event so that every event links to its producer's trace and ends
    // with its own settlement).
    context.with(ROOT_CONTEXT, () => this.run(open));
  };

  private run(open: OpenBatch): void {
    const { handler, timeoutMs, group, decide } = this.options;
    let settled = false;
    let failures: Map<ReceivedEvent, unknown> | undefined;
    let controller: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const events = open.events as unknown as readonly [ReceivedEvent, ...ReceivedEvent[]];
    const contexts = open.contexts;

    const settle = (threw: boolean, thrown: unknown): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      const { waiters } = open;
      if (waiters !== undefined) {
        for (let i = 0; i < waiters.length; i++) {
          const event = events[i]!;
          if (failures?.has(event)) waiters[i]!.reject(failures.get(event));
          else if (threw) waiters[i]!.reject(thrown);
          else waiters[i]!.resolve();
        }
      } else if (failures === undefined) {
        // One outcome for every event: the pipeline decides each failure, as for a single event.
        if (threw) open.reject(thrown);
        else open.resolve();
      } else {
        // Outcomes differ: each failed event's is set on its context, and all share the promise.
        for (let i = 0; i < events.length; i++) {
          const event = events[i]!;
          if (failures.has(event)) decide!(contexts[i]!, failures.get(event));
          else if (threw) decide!(contexts[i]!, thrown);
        }
        open.resolve();
      }
    };

    // Built on first use: a handler that fails every event of a large batch would otherwise
    // search the batch once per event.
    let positions: Map<ReceivedEvent, number> | undefined;
    const indexOf = (event: ReceivedEvent): number => {
      positions ??= new Map(events.map((each, index) => [each, index]));
      const index = positions.get(event);
      if (index === undefined) throw new ConfigError('event', 'not an event of this batch');
      return index;
    };

    const batch: BatchContext = {
      group,
      contexts,
      // Made on first use, as a delivery's own signal is: most handlers never look at it.
      get signal(): AbortSignal {
        if (controller === undefined) {
          const made = new AbortController();
          controller = made;
          for (const ctx of contexts) {
            const signal = ctx.signal;
            if (signal.aborted) made.abort(signal.reason);
            else signal.addEventListener('abort', () => made.abort(signal.reason), { once: true });
          }
        }
        return controller.signal;
      },
      contextOf: (event) => contexts[indexOf(event)]!,
      fail: (event, error) => {
        indexOf(event);
        if (settled) return;
        failures ??= new Map();
        failures.set(event, error);
      },
    };

    const deliveries = contexts as DeliveryContext[];
    batchOf.set(deliveries[0]!, deliveries);
    let result: unknown;
    try {
      // As its first delivery, as a single-event handler runs as its own: see deliveriesOfBatch.
      result = runAsDelivery(deliveries[0]!, () => handler(events, batch));
    } catch (thrown) {
      settle(true, thrown);
      return;
    }
    if (!isThenable(result)) {
      settle(false, undefined);
      return;
    }
    if (timeoutMs !== false) {
      timer = setTimeout(() => {
        const error = new TimeoutError(
          `batch handler of group "${group}" (${events.length} events) took longer than ${timeoutMs} ms`,
          timeoutMs,
        );
        // Aborting each delivery aborts the batch's signal too.
        for (const ctx of contexts) (ctx as DeliveryContext).abort?.(error);
        controller?.abort(error);
        // Events the handler already failed keep their own error; the rest fail with this one.
        settle(true, error);
      }, timeoutMs);
    }
    Promise.resolve(result).then(
      () => settle(false, undefined),
      (thrown: unknown) => settle(true, thrown),
    );
  }
}
