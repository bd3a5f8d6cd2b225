import { randomUUID } from 'node:crypto';
import {
  type AdapterSubscription,
  attemptOf,
  ClosedError,
  type CloseOptions,
  ConfigError,
  ConnectionError,
  type ConsumerLag,
  type ConsumerLagReporter,
  type DeadLetterSettlement,
  fitDeadLetter,
  type IncomingRecord,
  isSettlement,
  KeyedDispatcher,
  type LandedDeadLetter,
  RETRY_HEADERS,
  RETRY_NOW,
  type RecordHandler,
  type RetrySettlement,
  type Settlement,
  type SettlementObserver,
  type SubscribeSpec,
  type SubscriptionState,
  settlementHeaders,
  TidingsError,
  whenAborted,
} from '@tidings/core/adapter';
import {
  type Consumer,
  type ConsumerCrashEvent,
  type ConsumerGroupJoinEvent,
  type EachBatchPayload,
  type KafkaMessage,
  PartitionAssigners,
} from 'kafkajs';
import { fromKafkaHeaders, fromKafkaMessage, HEADER_OVERHEAD_BYTES, positionOf, recordRoom } from '../codec';
import type { InstrumentedClient, KafkaConnection } from '../connection';
import { describeKafkaError, isConnectionProblem, isPermanent, isSizeRefusal } from '../errors';
import type { AdapterLog } from '../logging';
import type { ResolvedKafkaOptions } from '../options';
import type { Publisher } from '../publisher';
import { nextCopyHeaders, readRetryEnvelope, retryTopicHeaders, tierOf } from '../retry-topics';
import { type TopicManager, topicNameProblem } from '../topics';
import { deferred, sleep, withTimeout } from '../wait';
import { subscriptionAwareAssigner } from './assigner';
import { OffsetCommitter } from './committer';
import { PartitionState, partitionKey } from './partition';
import { readCommitted, startOffsets, unsettledCounts } from './positions';

/** @internal What a subscription needs from its adapter. */
export interface SubscriptionDeps {
  readonly connection: KafkaConnection;
  readonly options: ResolvedKafkaOptions;
  readonly publisher: Publisher;
  readonly topics: TopicManager;
  readonly log: AdapterLog;
  readonly onClosed: (subscription: KafkaSubscription) => void;
}

/** How a Kafka topic of the subscription maps to the topic the core knows. */
interface Route {
  /** The subscribed topic; for a retry topic, the topic its records were first published to. */
  readonly source: string;
  readonly retryTopic: boolean;
}

/** One fetched record on its way through the subscription. */
interface Delivery {
  readonly state: PartitionState;
  readonly offset: number;
  /** Epoch milliseconds before which it must not be delivered; 0 for at once. */
  readonly dueAt: number;
  readonly record: IncomingRecord;
}

type Phase = 'starting' | 'running' | 'reconnecting' | 'failed' | 'closing' | 'closed';

/** How often a new owner looks again at a partition whose previous owner is still draining it. */
const DRAIN_POLL_MS = 100;
/** Pause before reading positions again after a failed attempt. */
const LOAD_RETRY_MS = 1_000;
/** Backoff of a dead-letter write that failed on a connection problem: from 0.5 s, doubling, to 30 s. */
const TRANSIENT_RETRY_MS = { first: 500, max: 30_000 } as const;
/**
 * Backoff of a dead-letter write the broker refused for good (not authorised, a missing topic it may
 * not create, even the minimal copy too large): from 30 s, doubling, to 5 min. Never a tight loop,
 * and still tried again, so that an operator's fix (an ACL, the topic) takes effect without a restart.
 */
const PERMANENT_RETRY_MS = { first: 30_000, max: 300_000 } as const;
/** Keys longer than this are left out of a minimal dead letter; the core's headers carry them, cut. */
const MINIMAL_KEY_BYTES = 1_024;

/**
 * @internal One subscription: a kafkajs consumer in the subscription's group, fetching the
 * subscribed topics (and their retry topics), feeding a {@link KeyedDispatcher}, and committing
 * per partition the offset of the lowest unsettled record.
 *
 * kafkajs calls `eachBatch` with what it fetched; the subscription takes the records and returns at
 * once, so kafkajs keeps fetching the other partitions and sending heartbeats however long handlers
 * run. A partition whose unsettled records reach `maxBufferedRecords` is paused until half of them
 * are settled.
 */
export class KafkaSubscription implements AdapterSubscription, ConsumerLagReporter {
  private readonly consumer: Consumer;
  private readonly dispatcher: KeyedDispatcher<Delivery>;
  private readonly routes = new Map<string, Route>();
  /** Retry topics by subscribed topic and tier, for unordered subscriptions with retry topics. */
  private readonly retryTopics = new Map<string, Map<number, string>>();
  private readonly tiersMs: readonly number[] | undefined;
  private readonly partitions = new Map<string, PartitionState>();
  private readonly revoking = new Map<
    string,
    { readonly state: PartitionState; readonly done: Promise<void> }
  >();
  /** Records fetched while delivery is paused, frozen by a rebalance, or before the gate opened. */
  private held: Delivery[] = [];
  private gateWaiters: (() => void)[] = [];
  private readonly instance = randomUUID();
  private readonly drainMs: number;
  private phase: Phase = 'starting';
  private userPaused = false;
  /** Between kafkajs noticing a rebalance (or crashing) and the next assignment. */
  private frozen = false;
  /** Aborted when `close` gives up on in-flight records: their late settlements are ignored. */
  private readonly abandoned = new AbortController();
  private error: Error | undefined;
  private pendingLoad: PartitionState[] = [];
  private loadDue = false;
  private readonly ready = deferred();
  private started: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** Aborted when `close` begins: cuts short every wait. */
  private readonly stopping = new AbortController();
  private readonly committer: OffsetCommitter;
  private readonly unlisten: (() => void)[] = [];

  constructor(
    private readonly spec: SubscribeSpec,
    private readonly handler: RecordHandler,
    private readonly observer: SettlementObserver | undefined,
    private readonly deps: SubscriptionDeps,
  ) {
    const { options } = deps;
    this.dispatcher = new KeyedDispatcher<Delivery>({
      concurrency: spec.concurrency,
      ordering: spec.ordering,
      // Per-key order holds within a topic; keys map to partitions.
      keyOf: (delivery) =>
        delivery.record.key === undefined
          ? undefined
          : `${delivery.record.topic}\u0000${delivery.record.key}`,
      run: (delivery) => this.run(delivery),
      onError: (error) => this.report(error, 'a record handler chain failed'),
    });
    this.committer = new OffsetCommitter({
      committable: () => this.committable(),
      canCommit: () => this.phase !== 'reconnecting' && this.phase !== 'failed' && this.phase !== 'closed',
      commit: (offsets) => this.consumer.commitOffsets(offsets),
      onError: (error) => this.report(error, 'committing offsets failed; trying again'),
      intervalMs: options.consumer.commitIntervalMs,
    });
    this.drainMs = spec.handlerTimeoutMs > 0 ? spec.handlerTimeoutMs + 5_000 : 30_000;
    this.tiersMs =
      options.retryTopics !== false && spec.ordering === 'none' ? options.retryTopics.tiersMs : undefined;
    for (const topic of spec.topics) {
      this.routes.set(topic, { source: topic, retryTopic: false });
      if (options.retryTopics === false || this.tiersMs === undefined) continue;
      const byTier = new Map<number, string>();
      for (const tier of this.tiersMs) {
        const name = options.retryTopics.name(topic, spec.group, tier);
        byTier.set(tier, name);
        this.routes.set(name, { source: topic, retryTopic: true });
      }
      this.retryTopics.set(topic, byTier);
    }
    const consumer = options.consumer;
    this.consumer = deps.connection.kafka.consumer({
      groupId: spec.group,
      sessionTimeout: consumer.sessionTimeoutMs,
      heartbeatInterval: consumer.heartbeatIntervalMs,
      rebalanceTimeout: consumer.rebalanceTimeoutMs,
      maxWaitTimeInMs: consumer.maxWaitTimeMs,
      maxBytesPerPartition: consumer.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      readUncommitted: false,
      // Ours first; kafkajs's round robin second, so that members of an older version can still
      // agree on a protocol with these during a rolling deploy.
      partitionAssigners: [subscriptionAwareAssigner, PartitionAssigners.roundRobin],
    });
  }

  /** Every Kafka topic the subscription consumes: the subscribed ones and their retry topics. */
  get kafkaTopics(): string[] {
    return [...this.routes.keys()];
  }

  get state(): SubscriptionState {
    switch (this.phase) {
      case 'closing':
      case 'closed':
        return 'closed';
      case 'running':
        return this.userPaused ? 'paused' : 'running';
      default:
        return this.phase;
    }
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /**
   * Records of each subscribed topic the group has not settled: per partition, the log end minus
   * the group's committed offset (the lowest unsettled record), and what waits in the topic's retry
   * topics. Offsets are committed every `consumer.commitIntervalMs`, so the figure trails the
   * settlements by up to that long. Two admin requests per call.
   */
  async lag(): Promise<ConsumerLag[]> {
    const admin = await this.deps.connection.admin();
    const counts = await unsettledCounts(admin, this.spec.group, this.kafkaTopics, this.spec.startFrom);
    const totals = new Map<string, number>(this.spec.topics.map((topic) => [topic, 0]));
    for (const [topic, messages] of counts) {
      const source = this.routes.get(topic)?.source ?? topic;
      totals.set(source, (totals.get(source) ?? 0) + messages);
    }
    return [...totals].map(([topic, messages]) => ({ topic, messages }));
  }

  /**
   * Joins the group and resolves once the first assignment is positioned: from then on, records
   * published to the topics reach the group, even when it starts from the latest offset.
   */
  start(): Promise<void> {
    this.started ??= this.join();
    return this.started;
  }

  private async join(): Promise<void> {
    const { options, topics } = this.deps;
    const kafkaTopics = this.kafkaTopics;
    try {
      await topics.ensure(kafkaTopics);
      this.listen();
      await withTimeout(
        (async () => {
          await this.consumer.connect();
          await this.subscribeTopics(kafkaTopics);
          await this.consumer.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: 1,
            eachBatch: (payload) => this.onBatch(payload),
          });
          await this.ready.promise;
        })(),
        options.consumer.subscribeTimeoutMs,
        () =>
          new ConnectionError(
            `kafka: group "${this.spec.group}" was not assigned its partitions within ${options.consumer.subscribeTimeoutMs} ms${this.error === undefined ? '' : `; last error: ${this.error.message}`}`,
          ),
      );
    } catch (thrown) {
      this.phase = 'failed';
      this.stopping.abort();
      await this.consumer.disconnect().catch(() => undefined);
      for (const remove of this.unlisten.splice(0)) remove();
      if (thrown instanceof TidingsError) throw thrown;
      const { redactor } = this.deps.options;
      throw new ConnectionError(
        redactor.text(
          `kafka: cannot subscribe group "${this.spec.group}" to ${this.spec.topics.join(', ')}: ${describeKafkaError(thrown)}`,
        ),
        { cause: redactor.error(thrown) },
      );
    }
    if (this.phase === 'starting') this.phase = 'running';
  }

  /**
   * kafkajs refuses topics its metadata does not show yet; a topic just created (by us or another
   * client) can take a moment to reach the broker kafkajs asks, so try again briefly.
   */
  private async subscribeTopics(topics: readonly string[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.consumer.subscribe({
          topics: [...topics],
          fromBeginning: this.spec.startFrom === 'earliest',
        });
        return;
      } catch (error) {
        const type = (error as { type?: string }).type;
        if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' || attempt >= 8) throw error;
      }
      if (!(await sleep(Math.min(100 * 2 ** attempt, 2_000), this.stopping.signal))) return;
    }
  }

  pause(): void {
    if (this.userPaused || this.phase === 'closing' || this.phase === 'closed') return;
    this.userPaused = true;
    this.freeze();
    this.syncPauses();
  }

  resume(): void {
    if (!this.userPaused) return;
    this.userPaused = false;
    this.syncPauses();
    this.releaseHeld();
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.signal);
    return this.closing;
  }

  // ---------------------------------------------------------------------------------------------
  // Group membership

  private listen(): void {
    const { events } = this.consumer;
    this.unlisten.push(
      this.consumer.on(events.GROUP_JOIN, (event) => this.onGroupJoin(event)),
      this.consumer.on(events.REBALANCING, () => this.onRebalancing()),
      this.consumer.on(events.CRASH, (event) => this.onCrash(event)),
      this.consumer.on(events.FETCH_START, () => this.onFetchStart()),
      this.deps.connection.monitor.watch(this.consumer as unknown as InstrumentedClient),
    );
  }

  /**
   * A new assignment. Partitions no longer ours are revoked (their in-flight records finish, then
   * the final position is committed); new ones load their position before records are taken.
   */
  private onGroupJoin(event: ConsumerGroupJoinEvent): void {
    const assigned = new Map<string, readonly [string, number]>();
    for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
      for (const partition of partitions) assigned.set(partitionKey(topic, partition), [topic, partition]);
    }
    const revoked = [...this.partitions.values()].filter((state) => !assigned.has(state.key));
    this.info('joined the group', {
      memberId: event.payload.memberId,
      assigned: [...assigned.values()].map(([topic, partition]) => `${topic}/${partition}`),
      revoked: revoked.map(describe),
    });
    for (const state of revoked) this.revoke(state);
    // A member on its way out takes no new partitions; kafkajs hands them on when it leaves.
    if (this.phase === 'closing' || this.phase === 'closed') return;
    const fresh: PartitionState[] = [];
    for (const [key, [topic, partition]] of assigned) {
      if (this.partitions.has(key)) continue;
      const state = new PartitionState(topic, partition);
      this.partitions.set(key, state);
      fresh.push(state);
    }
    for (const state of this.partitions.values()) {
      state.fetchPaused = false;
      if (state.phase !== 'active') continue;
      // Rewrite the position of kept partitions: it clears the drain marker set for the rebalance.
      state.drain = undefined;
      this.committer.markDirty(state);
      // kafkajs would fetch a kept partition again from its committed offset; go on from where we are.
      this.seek(state, state.next);
    }
    // kafkajs keeps pauses across a rebalance but not across the restart after a crash.
    this.resumeAllInKafka();
    this.syncPauses();
    this.frozen = false;
    if (this.phase === 'reconnecting') this.phase = 'running';
    this.releaseHeld();
    this.pendingLoad.push(...fresh);
    // Positions are read once kafkajs fetches again: only then does it accept commits and seeks.
    this.loadDue = true;
  }

  /**
   * kafkajs noticed a rebalance and is about to rejoin, which gives up every partition. Stop starting
   * records, and commit what is settled. Partitions with records still in flight get a drain marker,
   * so that their next owner waits for those to finish here instead of handling them again.
   */
  private onRebalancing(): void {
    this.frozen = true;
    this.freeze();
    for (const state of this.partitions.values()) {
      if (state.phase !== 'active') continue;
      state.drain = state.running > 0 ? { owner: this.instance, drainMs: this.drainMs } : undefined;
      state.dirty = true;
    }
    this.info('the group is rebalancing; committing settled positions', {
      draining: [...this.partitions.values()].filter((state) => state.drain !== undefined).map(describe),
    });
    void this.committer.flush();
  }

  private onCrash(event: ConsumerCrashEvent): void {
    const { error, restart } = event.payload;
    this.report(error, restart ? 'the consumer crashed; kafkajs restarts it' : 'the consumer crashed');
    if (isConnectionProblem(error)) this.deps.connection.monitor.lost(error);
    this.frozen = true;
    this.freeze();
    if (this.phase === 'closing' || this.phase === 'closed') return;
    if (restart) {
      if (this.phase === 'running') this.phase = 'reconnecting';
      return;
    }
    this.phase = 'failed';
    this.ready.reject(this.deps.options.redactor.error(error));
  }

  private onFetchStart(): void {
    if (!this.loadDue) return;
    this.loadDue = false;
    void this.load(this.pendingLoad.splice(0));
  }

  /**
   * Positions newly assigned partitions: waits for our own earlier incarnation of them and for a
   * previous owner's drain marker, reads the committed offset and retry marks, and seeks there. A
   * partition the group never committed starts at the earliest or latest offset; the latest is
   * committed at once, so the group's starting point does not move if this member leaves early.
   */
  private async load(states: readonly PartitionState[]): Promise<void> {
    const live = (): PartitionState[] => states.filter((state) => state.phase === 'loading');
    try {
      await Promise.all(states.map((state) => this.revoking.get(state.key)?.done));
      const admin = await this.deps.connection.admin();
      const committed = await readCommitted(admin, this.spec.group, live());
      const waitStarted = Date.now();
      let announced = false;
      for (;;) {
        const draining = live().filter((state) => {
          const drain = committed.get(state.key)?.metadata.drain;
          return (
            drain !== undefined && drain.owner !== this.instance && Date.now() - waitStarted < drain.drainMs
          );
        });
        if (draining.length === 0) break;
        if (!announced) {
          announced = true;
          this.info('waiting for the previous owner to drain', { partitions: draining.map(describe) });
        }
        if (!(await sleep(DRAIN_POLL_MS, this.stopping.signal))) return;
        for (const [key, position] of await readCommitted(admin, this.spec.group, draining)) {
          committed.set(key, position);
        }
      }
      const unpositioned = live().filter((state) => (committed.get(state.key)?.offset ?? -1) < 0);
      const starts = await startOffsets(admin, unpositioned, this.spec.startFrom);
      const pinned: PartitionState[] = [];
      for (const state of live()) {
        const position = committed.get(state.key);
        const known = position !== undefined && position.offset >= 0;
        const offset = known ? position.offset : starts.get(state.key);
        if (offset === undefined) continue;
        state.activate(offset, position?.metadata.retries ?? new Map());
        this.seek(state, offset);
        if (!known && this.spec.startFrom === 'latest') pinned.push(state);
        // A marker left by an owner that timed out draining is ours to clear.
        if (position?.metadata.drain !== undefined) this.committer.markDirty(state);
      }
      for (const state of pinned) state.dirty = true;
      if (pinned.length > 0) await this.committer.flush();
      this.syncPauses();
      if (states.length > 0) {
        this.info('partitions assigned', {
          partitions: states
            .filter((state) => state.phase === 'active')
            .map((state) => `${describe(state)}@${state.next}`),
          waitedMs: Date.now() - waitStarted,
        });
      }
      // Ready once every partition of the assignment is positioned (a rebalance may have come meanwhile).
      if (![...this.partitions.values()].some((state) => state.phase === 'loading')) this.ready.resolve();
    } catch (error) {
      this.report(error, 'reading the committed positions failed; trying again');
      if (this.stopping.signal.aborted) return;
      this.pendingLoad.push(...live());
      if (!(await sleep(LOAD_RETRY_MS, this.stopping.signal))) return;
      this.loadDue = true;
    }
  }

  /**
   * Gives a partition up: queued records are dropped (they are the next owner's), waits for due
   * times and retries end, in-flight records finish (up to the drain time), then the final position
   * is committed, which also clears the drain marker the next owner may be waiting on.
   */
  private revoke(state: PartitionState): void {
    this.partitions.delete(state.key);
    const wasActive = state.phase === 'active';
    state.phase = 'revoking';
    state.revoked.abort();
    state.wake();
    this.clearTimers(state);
    this.held = this.held.filter((delivery) => delivery.state !== state);
    const queued = this.dispatcher.drainQueued();
    for (const delivery of queued) if (delivery.state !== state) this.dispatcher.push(delivery);
    if (!wasActive) {
      state.phase = 'gone';
      state.gone.abort();
      return;
    }
    const done = (async () => {
      const started = Date.now();
      const timeUp = new AbortController();
      // Up to the drain time, and no longer than a close that gives up on in-flight records.
      const drained = await Promise.race([
        state.idle().then(() => true),
        sleep(this.drainMs, AbortSignal.any([timeUp.signal, this.abandoned.signal])).then(() => false),
      ]);
      timeUp.abort();
      if (drained && !this.abandoned.signal.aborted) {
        state.drain = undefined;
        state.dirty = true;
        await this.committer.flush();
      }
      state.phase = 'gone';
      state.gone.abort();
      if (this.revoking.get(state.key)?.state === state) this.revoking.delete(state.key);
      this.info(drained ? 'revoked partition drained' : 'revoked partition did not drain in time', {
        partition: describe(state),
        position: state.position(),
        drainedMs: Date.now() - started,
      });
    })();
    this.revoking.set(state.key, { state, done });
  }

  // ---------------------------------------------------------------------------------------------
  // Fetching and delivering

  private async onBatch({ batch, resolveOffset, isStale }: EachBatchPayload): Promise<void> {
    const state = this.partitions.get(partitionKey(batch.topic, batch.partition));
    const route = this.routes.get(batch.topic);
    if (state === undefined || route === undefined) return;
    const { maxWaitTimeMs, maxBufferedRecords } = this.deps.options.consumer;
    if (state.phase === 'loading') {
      // kafkajs fetched before the position was read. Its fetches are not paused for that, since a
      // fetch loop with every partition paused sleeps a whole fetch wait before it looks again.
      if (!(await this.waitBriefly((signal) => state.whenActive(signal), maxWaitTimeMs))) {
        this.hold(state);
        return;
      }
    }
    // After activation kafkajs seeks to the position: this batch is stale and is fetched again.
    if (state.phase !== 'active' || isStale() || this.phase === 'closing' || this.phase === 'closed') return;
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      // kafkajs fetches from the committed offset again after a rebalance; skip what we hold.
      if (offset < state.next) continue;
      state.accept(offset);
      this.enqueue(this.toDelivery(state, route, message, offset));
    }
    // Past transaction markers too, which kafkajs filters out of the batch.
    const last = Number(batch.lastOffset());
    if (last >= state.next) state.next = last + 1;
    if (state.next > 0) resolveOffset(String(state.next - 1));
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
    const signal = AbortSignal.any([AbortSignal.timeout(ms), this.stopping.signal]);
    return wait(signal);
  }

  /** Stops kafkajs fetching a partition until it is active and below half its limit. */
  private hold(state: PartitionState): void {
    state.held = true;
    this.syncPause(state);
  }

  private toDelivery(state: PartitionState, route: Route, message: KafkaMessage, offset: number): Delivery {
    const headers = fromKafkaHeaders(message.headers);
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

  /** Hands a record to the dispatcher, or holds it while delivery is stopped or it is not due yet. */
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
    if (this.gateOpen()) this.dispatcher.push(delivery);
    else this.held.push(delivery);
  }

  private gateOpen(): boolean {
    return !this.userPaused && !this.frozen && this.phase !== 'closing' && this.phase !== 'closed';
  }

  /** Takes back the records the dispatcher has not started, to hold them while delivery is stopped. */
  private freeze(): void {
    const queued = this.dispatcher.drainQueued();
    if (queued.length > 0) this.held = [...queued, ...this.held];
  }

  private releaseHeld(): void {
    if (!this.gateOpen()) return;
    const held = this.held;
    this.held = [];
    for (const delivery of held) if (delivery.state.phase === 'active') this.dispatcher.push(delivery);
    const waiters = this.gateWaiters;
    this.gateWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves true once delivery may go on, false if `signal` aborts first. */
  private async whenGateOpen(signal: AbortSignal): Promise<boolean> {
    while (!this.gateOpen()) {
      if (signal.aborted) return false;
      const opened = new Promise<void>((resolve) => this.gateWaiters.push(resolve));
      await Promise.race([opened, whenAborted(signal)]);
    }
    return !signal.aborted;
  }

  /** Delivers one record, applies its settlement, and retries it in place when that is the mode. */
  private async run(first: Delivery): Promise<void> {
    const { state } = first;
    if (state.phase !== 'active') return;
    state.enter();
    try {
      let delivery = first;
      for (;;) {
        const settlement = await this.handle(delivery.record);
        if (!this.applies(state)) return;
        if (settlement.type === 'ack') {
          this.settle(delivery);
          return;
        }
        if (settlement.type === 'deadLetter') {
          if (await this.deadLetter(delivery, settlement)) this.settle(delivery);
          return;
        }
        if (await this.retryThroughTopic(delivery, settlement)) {
          this.settle(delivery);
          return;
        }
        const next = this.retryInPlace(delivery, settlement);
        if (!(await this.waitToRedeliver(state, settlement.delayMs))) return;
        delivery = next;
      }
    } finally {
      state.leave();
    }
  }

  private async handle(record: IncomingRecord): Promise<Settlement> {
    try {
      const settlement = await this.handler(record);
      if (isSettlement(settlement)) return settlement;
      this.report(
        new TypeError(`the record handler settled with ${String(settlement)}`),
        'retrying the record',
      );
      return RETRY_NOW;
    } catch {
      // The core never rejects; should it, the contract says retry at once.
      return RETRY_NOW;
    }
  }

  /** Whether a settlement of this partition's record still counts. */
  private applies(state: PartitionState): boolean {
    return !this.abandoned.signal.aborted && (state.phase === 'active' || state.phase === 'revoking');
  }

  private settle(delivery: Delivery): void {
    delivery.state.settle(delivery.offset);
    this.committer.markDirty(delivery.state);
    this.syncPause(delivery.state);
  }

  /**
   * Writes the dead letter, so that the record can be acknowledged; true once the broker has it.
   *
   * A dead letter always lands when the broker can take any: the full copy when it fits the dead-letter
   * topic's `max.message.bytes`, else the reduced copy {@link fitDeadLetter} makes for that limit, and
   * when the broker still refuses it for its size, the minimal copy, once. A failure is reported to the
   * observer once and tried again with backoff, slowly for an error the broker calls permanent; the
   * record stays unsettled meanwhile (its offset is not committed past). It gives up when the partition
   * goes to another member or the subscription closes: the record is then the group's again.
   */
  private async deadLetter(delivery: Delivery, settlement: DeadLetterSettlement): Promise<boolean> {
    const { record, state } = delivery;
    const giveUp = AbortSignal.any([state.gone.signal, this.abandoned.signal, this.stopping.signal]);
    const what = `dead-lettering ${record.position} to "${settlement.topic}"`;
    let minimal = false;
    let told = false;
    for (let failures = 0; ; failures++) {
      let delayMs: number;
      try {
        const reduced = await this.writeDeadLetter(record, settlement, minimal);
        this.observer?.deadLettered(record, { topic: settlement.topic, reason: settlement.reason, reduced });
        return true;
      } catch (error) {
        // The minimal copy was refused too, or the refusal came before any copy fitted: from now on
        // only the minimal copy is tried.
        if (isSizeRefusal(error)) minimal = true;
        const permanent = isPermanent(error);
        const backoff = permanent ? PERMANENT_RETRY_MS : TRANSIENT_RETRY_MS;
        delayMs = Math.min(backoff.first * 2 ** failures, backoff.max);
        this.report(
          error,
          `${what} failed${permanent ? ' (the broker says for good)' : ''}; trying again in ${delayMs} ms`,
        );
        if (!told) {
          told = true;
          this.observer?.settlementFailed(record, settlement, this.error!);
        }
      }
      if (!(await sleep(delayMs, giveUp)) || !this.applies(state)) return false;
    }
  }

  /**
   * One attempt at a dead letter: the copy that fits the topic's limit (or the minimal one), then, if
   * the broker refuses that for its size, the minimal copy. Resolves with what was cut.
   */
  private async writeDeadLetter(
    record: IncomingRecord,
    settlement: DeadLetterSettlement,
    minimal: boolean,
  ): Promise<LandedDeadLetter['reduced']> {
    const { topic } = settlement;
    const { topics, publisher } = this.deps;
    // The core names dead-letter topics and the bus checks them; a caller of the adapter may not.
    const problem = topicNameProblem(topic);
    if (problem !== undefined) throw new ConfigError('deadLetter.topic', problem);
    await topics.ensure([topic]);
    const maxBatchBytes = await topics.maxMessageBytes(topic);
    const headers = settlementHeaders(record.headers, settlement.headers);
    const write = async (asMinimal: boolean): Promise<LandedDeadLetter['reduced']> => {
      const keyBytes = record.key === undefined ? 0 : Buffer.byteLength(record.key);
      // A key too large for the dead letter is left out: the core's headers carry it (cut if need be).
      const room = recordRoom(maxBatchBytes, keyBytes);
      const keepKey = keyBytes <= (asMinimal ? MINIMAL_KEY_BYTES : maxBatchBytes / 4);
      const letter = fitDeadLetter(headers, record.body, {
        maxBytes: keepKey ? room : recordRoom(maxBatchBytes, 0),
        headerOverheadBytes: HEADER_OVERHEAD_BYTES,
        minimal: asMinimal,
      });
      await publisher.publish([
        { topic, key: keepKey ? record.key : undefined, headers: letter.headers, body: letter.body },
      ]);
      return letter.reduced;
    };
    if (minimal) return write(true);
    try {
      return await write(false);
    } catch (error) {
      if (!isSizeRefusal(error)) throw error;
      // The topic's limit may have changed since it was read; the next dead letter reads it again.
      topics.forgetLimit(topic);
      this.report(
        error,
        `the broker refused the dead letter of ${record.position} for its size; writing the minimal copy`,
      );
      return write(true);
    }
  }

  /**
   * Unordered subscriptions retry through a retry topic: the record is re-published with its attempt
   * count and due time, and its offset settled, so the partition goes on. False when there is no
   * retry topic or publishing failed; the record is then retried in place.
   */
  private async retryThroughTopic(delivery: Delivery, settlement: RetrySettlement): Promise<boolean> {
    if (this.tiersMs === undefined) return false;
    const { record, state } = delivery;
    const topic = this.retryTopics.get(record.topic)?.get(tierOf(settlement.delayMs, this.tiersMs));
    if (topic === undefined) return false;
    const dueAt = Date.now() + settlement.delayMs;
    const headers = retryTopicHeaders(nextCopyHeaders(record, settlement), dueAt, {
      topic: state.topic,
      partition: state.partition,
      offset: delivery.offset,
    });
    try {
      await this.deps.publisher.publish([{ topic, key: record.key, headers, body: record.body }]);
      return true;
    } catch (error) {
      this.report(error, `publishing ${record.position} to retry topic "${topic}" failed; retrying in place`);
      return false;
    }
  }

  /**
   * Ordered subscriptions retry in place: the record keeps its key busy (later records of the key
   * wait) and the partition's commit position stays at or before it. Its attempt count is committed
   * with the position, so a restart or a new owner goes on counting.
   */
  private retryInPlace(delivery: Delivery, settlement: RetrySettlement): Delivery {
    const { record, state } = delivery;
    const headers = nextCopyHeaders(record, settlement);
    const attempt = attemptOf(headers);
    state.retries.set(delivery.offset, { attempt, firstFailureAt: headers[RETRY_HEADERS.firstFailureAt]! });
    this.committer.markDirty(state);
    return { ...delivery, record: { ...record, attempt, headers } };
  }

  private async waitToRedeliver(state: PartitionState, delayMs: number): Promise<boolean> {
    const signal = AbortSignal.any([state.revoked.signal, this.stopping.signal]);
    if (delayMs > 0 && !(await sleep(delayMs, signal))) return false;
    return (await this.whenGateOpen(signal)) && state.phase === 'active';
  }

  // ---------------------------------------------------------------------------------------------
  // Backpressure

  /** Brings kafkajs's paused partitions in line with what the subscription wants. */
  private syncPauses(): void {
    for (const state of this.partitions.values()) this.syncPause(state);
  }

  private syncPause(state: PartitionState): void {
    if (
      state.held &&
      state.phase === 'active' &&
      state.buffered <= this.deps.options.consumer.maxBufferedRecords / 2
    ) {
      state.held = false;
    }
    const paused = state.held || this.userPaused || this.phase === 'closing' || this.phase === 'closed';
    if (paused === state.fetchPaused || this.partitions.get(state.key) !== state) return;
    const target = [{ topic: state.topic, partitions: [state.partition] }];
    try {
      if (paused) this.consumer.pause(target);
      else this.consumer.resume(target);
      state.fetchPaused = paused;
    } catch {
      // kafkajs is between a crash and its restart; the next assignment applies it.
    }
  }

  private seek(state: PartitionState, offset: number): void {
    try {
      this.consumer.seek({ topic: state.topic, partition: state.partition, offset: String(offset) });
    } catch {
      // kafkajs is between a crash and its restart; the records below `next` are skipped anyway.
    }
  }

  private resumeAllInKafka(): void {
    try {
      this.consumer.resume(this.kafkaTopics.map((topic) => ({ topic })));
    } catch {
      // as above
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Close

  private async shutdown(signal: AbortSignal | undefined): Promise<void> {
    if (this.phase === 'starting') {
      // Stop waiting for the assignment; join() disconnects the consumer when it fails.
      this.ready.reject(closedWhileStarting(this.spec.group));
      const joined =
        (await this.started?.then(
          () => true,
          () => false,
        )) ?? false;
      if (!joined) {
        this.phase = 'closed';
        this.deps.onClosed(this);
        return;
      }
    }
    this.phase = 'closing';
    this.stopping.abort();
    // Records not handed to a handler yet stay with the broker for the group's next member.
    this.held = [];
    this.dispatcher.drainQueued();
    for (const state of this.partitions.values()) this.clearTimers(state);
    this.syncPauses();
    const idle = this.dispatcher.idle();
    if (signal === undefined) await idle;
    else await Promise.race([idle, whenAborted(signal)]);
    if (signal?.aborted) this.abandoned.abort();
    await Promise.all([...this.revoking.values()].map(({ done }) => done));
    for (const state of this.partitions.values()) state.dirty = true;
    await this.committer.flush();
    this.committer.stop();
    await this.consumer.disconnect().catch((error: unknown) => this.report(error, 'disconnecting failed'));
    for (const remove of this.unlisten.splice(0)) remove();
    this.phase = 'closed';
    this.deps.onClosed(this);
  }

  /** Partitions whose position may be committed: assigned ones, and revoked ones still draining. */
  private *committable(): Generator<PartitionState> {
    for (const state of this.partitions.values()) if (state.phase === 'active') yield state;
    for (const { state } of this.revoking.values()) {
      if (state.phase === 'revoking' && state.next >= 0) yield state;
    }
  }

  private clearTimers(state: PartitionState): void {
    for (const timer of state.timers) clearTimeout(timer);
    state.timers.clear();
  }

  private info(message: string, fields: Record<string, unknown>): void {
    this.deps.log.log('info', `kafka subscription: ${message}`, { group: this.spec.group, ...fields });
  }

  private report(error: unknown, what: string): void {
    // Shown by health checks and logs: never with a credential in it.
    this.error = this.deps.options.redactor.error(error);
    this.deps.log.log(isConnectionProblem(error) ? 'warn' : 'error', `kafka subscription: ${what}`, {
      group: this.spec.group,
      topics: this.spec.topics,
      error: describeKafkaError(error),
    });
  }
}

function describe(state: PartitionState): string {
  return `${state.topic}/${state.partition}`;
}

/** @internal Thrown by `subscribe` when the adapter closed while the subscription was starting. */
export function closedWhileStarting(group: string): ClosedError {
  return new ClosedError(`kafka: the adapter closed while group "${group}" was joining`);
}
