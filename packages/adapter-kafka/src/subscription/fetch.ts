import { type IncomingRecord, type KeyedDispatcher, RETRY_HEADERS, whenAborted } from '@tidings/core/adapter';
import type { KafkaGroupConsumer, PartitionBatch } from '../client/consumer';
import type { FetchedRecord } from '../client/reader';
import { fromKafkaMessage, positionOf } from '../codec';
import type { ResolvedKafkaOptions } from '../options';
import { type Route, readRetryEnvelope, type TopicRoutes } from '../retry-topics';
import { type PartitionState, partitionKey } from './partition';

/**
 * Fetching, and pausing and resuming: how what kafkajs fetched becomes deliveries, when they may
 * start, and which partitions kafkajs fetches.
 *
 * @module
 */

/** @internal One fetched record on its way through the subscription. */
export interface Delivery {
  readonly state: PartitionState;
  readonly offset: number;
  /** Epoch milliseconds before which it must not be delivered; 0 for at once. */
  readonly dueAt: number;
  readonly record: IncomingRecord;
}

/** @internal What the intake needs from its subscription. */
export interface IntakeDeps {
  readonly consumer: KafkaGroupConsumer;
  readonly dispatcher: KeyedDispatcher<Delivery>;
  readonly routes: TopicRoutes;
  /** The assigned partitions, by {@link partitionKey}. */
  readonly partitions: ReadonlyMap<string, PartitionState>;
  readonly options: ResolvedKafkaOptions['consumer'];
  /** Aborted when `close` begins. */
  readonly stopping: AbortSignal;
  /** Whether the subscription is closing or closed. */
  readonly closing: () => boolean;
}

/**
 * @internal The fetching side of a subscription. kafkajs calls `eachBatch` with what it fetched;
 * {@link Intake.onBatch} takes the records and returns at once, so kafkajs keeps fetching the other
 * partitions and sending heartbeats however long handlers run. A partition whose unsettled records
 * reach `maxBufferedRecords` is paused in kafkajs until half of them are settled.
 *
 * Deliveries start only while the gate is open: not while the user paused the subscription, not
 * between kafkajs noticing a rebalance (or crashing) and the next assignment, not once closing.
 * Meanwhile the dispatcher holds them, paused.
 */
export class Intake {
  private userPaused = false;
  /** Between kafkajs noticing a rebalance (or crashing) and the next assignment. */
  private frozen = false;
  private gateWaiters: (() => void)[] = [];

  constructor(private readonly deps: IntakeDeps) {}

  /** Whether the user paused the subscription. */
  get paused(): boolean {
    return this.userPaused;
  }

  /** Stops delivering, and fetching every partition, until {@link resume}. */
  pause(): void {
    this.userPaused = true;
    this.syncGate();
    this.syncPauses();
  }

  /** Undoes {@link pause}. */
  resume(): void {
    if (!this.userPaused) return;
    this.userPaused = false;
    this.syncPauses();
    this.syncGate();
  }

  /** Stops starting deliveries: kafkajs noticed a rebalance, or crashed. */
  freeze(): void {
    this.frozen = true;
    this.syncGate();
  }

  /** Undoes {@link freeze}: the next assignment is in place. */
  thaw(): void {
    this.frozen = false;
    this.syncGate();
  }

  /**
   * Closing: deliveries not started yet, and retry records waiting for their due time, are dropped
   * (they stay with the broker for the group's next member), and every partition is paused.
   */
  stop(): void {
    this.syncGate();
    this.deps.dispatcher.drainQueued();
    for (const state of this.deps.partitions.values()) state.clearTimers();
    this.syncPauses();
  }

  /** Drops the deliveries of a revoked partition that have not started: they are the next owner's. */
  drop(state: PartitionState): void {
    state.clearTimers();
    const { dispatcher } = this.deps;
    for (const delivery of dispatcher.drainQueued()) if (delivery.state !== state) dispatcher.push(delivery);
  }

  /** Resolves true once deliveries may start, false if `signal` aborts first. */
  async whenGateOpen(signal: AbortSignal): Promise<boolean> {
    while (!this.gateOpen()) {
      if (signal.aborted) return false;
      const opened = new Promise<void>((resolve) => this.gateWaiters.push(resolve));
      await Promise.race([opened, whenAborted(signal)]);
    }
    return !signal.aborted;
  }

  private gateOpen(): boolean {
    return !this.userPaused && !this.frozen && !this.deps.closing();
  }

  /** Pauses or resumes the dispatcher to match the gate, and wakes what waits for it to open. */
  private syncGate(): void {
    if (!this.gateOpen()) {
      this.deps.dispatcher.pause();
      return;
    }
    this.deps.dispatcher.resume();
    const waiters = this.gateWaiters;
    this.gateWaiters = [];
    for (const wake of waiters) wake();
  }

  // ---------------------------------------------------------------------------------------------
  // Fetching

  /** kafkajs's `eachBatch`: takes the batch's records, holding back what the partition cannot take. */
  async onBatch(batch: PartitionBatch): Promise<void> {
    const state = this.deps.partitions.get(partitionKey(batch.topic, batch.partition));
    const route = this.deps.routes.route(batch.topic);
    if (state === undefined || route === undefined) return;
    const { maxWaitTimeMs, maxBufferedRecords } = this.deps.options;
    if (state.phase === 'loading') {
      // kafkajs fetched before the position was read. Its fetches are not paused for that, since a
      // fetch loop with every partition paused sleeps a whole fetch wait before it looks again.
      if (!(await this.waitBriefly((signal) => state.whenActive(signal), maxWaitTimeMs))) {
        this.hold(state);
        return;
      }
    }
    // After activation kafkajs seeks to the position: this batch is stale and is fetched again.
    if (state.phase !== 'active' || batch.isStale() || this.deps.closing()) return;
    for (const message of batch.records) {
      const offset = message.offset;
      // kafkajs fetches from the committed offset again after a rebalance; skip what we hold.
      if (offset < state.next) continue;
      state.accept(offset);
      this.enqueue(toDelivery(state, route, message, offset));
    }
    // Past transaction markers too, which kafkajs filters out of the batch.
    const last = batch.lastOffset;
    if (last >= state.next) state.next = last + 1;
    if (state.next > 0) batch.resolve(state.next);
    if (state.buffered >= maxBufferedRecords) {
      // Backpressure: wait a fetch wait for half of the records to be settled, so kafkajs fetches
      // again at once; a partition that settles slower than that is paused until it catches up.
      const below = Math.floor(maxBufferedRecords / 2);
      if (!(await this.waitBriefly((signal) => state.whenBufferedAtMost(below, signal), maxWaitTimeMs))) {
        this.hold(state);
      }
    }
  }

  /** Runs `wait` for at most `ms`, and at most until close; true when it came true in time. */
  private async waitBriefly(wait: (signal: AbortSignal) => Promise<boolean>, ms: number): Promise<boolean> {
    const signal = AbortSignal.any([AbortSignal.timeout(ms), this.deps.stopping]);
    return wait(signal);
  }

  /** Stops kafkajs fetching a partition until it is active and below half its limit. */
  private hold(state: PartitionState): void {
    state.held = true;
    this.syncPause(state);
  }

  /** Hands a record to the dispatcher, or holds it until its due time. */
  private enqueue(delivery: Delivery): void {
    const wait = delivery.dueAt - Date.now();
    if (wait > 0) {
      const { state } = delivery;
      const timer = setTimeout(() => {
        state.timers.delete(timer);
        if (state.phase === 'active') this.enqueue(delivery);
      }, wait);
      state.timers.add(timer);
      return;
    }
    // While the gate is shut the dispatcher is paused: the delivery waits there.
    this.deps.dispatcher.push(delivery);
  }

  // ---------------------------------------------------------------------------------------------
  // Pausing partitions in kafkajs

  /** Brings kafkajs's paused partitions in line with what the subscription wants. */
  syncPauses(): void {
    for (const state of this.deps.partitions.values()) this.syncPause(state);
  }

  /** Pauses or resumes one partition in kafkajs: held back, paused by the user, or closing. */
  syncPause(state: PartitionState): void {
    if (
      state.held &&
      state.phase === 'active' &&
      state.buffered <= this.deps.options.maxBufferedRecords / 2
    ) {
      state.held = false;
    }
    const paused = state.held || this.userPaused || this.deps.closing();
    if (paused === state.fetchPaused || this.deps.partitions.get(state.key) !== state) return;
    try {
      if (paused) this.deps.consumer.pause(state.topic, state.partition);
      else this.deps.consumer.resume(state.topic, state.partition);
      state.fetchPaused = paused;
    } catch {
      // kafkajs is between a crash and its restart; the next assignment applies it.
    }
  }

  /** Makes kafkajs fetch a partition from `offset`. */
  seek(state: PartitionState, offset: number): void {
    try {
      this.deps.consumer.seek(state.topic, state.partition, offset);
    } catch {
      // kafkajs is between a crash and its restart; the records below `next` are skipped anyway.
    }
  }

  /** Resumes every partition in kafkajs: it keeps pauses across a rebalance, not across a crash. */
  resumeAll(): void {
    try {
      this.deps.consumer.resumeTopics(this.deps.routes.kafkaTopics);
    } catch {
      // as above
    }
  }
}

function toDelivery(state: PartitionState, route: Route, message: FetchedRecord, offset: number): Delivery {
  const headers = message.headers;
  const own = positionOf(state.topic, state.partition, offset);
  const envelope = route.retryTopic ? readRetryEnvelope(headers) : undefined;
  // An in-place retry of this record was under way (before a restart, or under the partition's
  // previous owner): its copy carried these retry headers, committed with the offset.
  const mark = state.retries.get(offset);
  if (mark !== undefined) {
    headers[RETRY_HEADERS.attempt] = String(mark.attempt);
    headers[RETRY_HEADERS.firstFailureAt] = mark.firstFailureAt;
  }
  return {
    state,
    offset,
    dueAt: envelope?.dueAt ?? 0,
    record: fromKafkaMessage(message, headers, route.source, envelope?.originalPosition ?? own),
  };
}
