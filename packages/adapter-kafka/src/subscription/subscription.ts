import {
  type AdapterSubscription,
  ClosedError,
  type CloseOptions,
  ConnectionError,
  type ConsumerLag,
  type ConsumerLagReporter,
  KeyedDispatcher,
  type RecordHandler,
  type SettlementObserver,
  type SubscribeSpec,
  type SubscriptionState,
  TidingsError,
  whenAborted,
  withTimeout,
} from '@tidings/core/adapter';
import type { KafkaGroupConsumer } from '../client/consumer';
import type { KafkaConnection } from '../connection';
import { deferred } from '../deferred';
import { describeKafkaError, isConnectionProblem } from '../errors';
import type { AdapterLog } from '../logging';
import type { ResolvedKafkaOptions } from '../options';
import type { Publisher } from '../publisher';
import { TopicRoutes } from '../retry-topics';
import type { TopicManager } from '../topics';
import { OffsetCommitter } from './committer';
import { DeadLetters } from './dead-letters';
import { type Delivery, Intake } from './fetch';
import { subscriptionLag } from './lag';
import type { PartitionState } from './partition';
import { Membership } from './rebalance';
import { Retries } from './retries';
import { Settler } from './settle';

/** @internal What a subscription needs from its adapter. */
export interface SubscriptionDeps {
  readonly connection: KafkaConnection;
  readonly options: ResolvedKafkaOptions;
  readonly publisher: Publisher;
  readonly topics: TopicManager;
  readonly log: AdapterLog;
  readonly onClosed: (subscription: KafkaSubscription) => void;
}

type Phase = 'starting' | 'running' | 'reconnecting' | 'failed' | 'closing' | 'closed';

/**
 * @internal One subscription: a kafkajs consumer in the subscription's group, fetching the
 * subscribed topics (and their retry topics), feeding a {@link KeyedDispatcher}, and committing
 * per partition the offset of the lowest unsettled record.
 *
 * This file holds its life (joining, pausing, closing) and wires its parts, one file each:
 * fetching and the gate of deliveries (`fetch.ts`), the settling of each delivery (`settle.ts`),
 * retries (`retries.ts`), dead letters (`dead-letters.ts`), group membership, revokes and drains
 * (`rebalance.ts`), commits (`committer.ts`) and lag (`lag.ts`).
 */
export class KafkaSubscription implements AdapterSubscription, ConsumerLagReporter {
  private readonly consumer: KafkaGroupConsumer;
  private readonly dispatcher: KeyedDispatcher<Delivery>;
  private readonly routes: TopicRoutes;
  /** The assigned partitions: kept by the membership, read by the intake. */
  private readonly partitions = new Map<string, PartitionState>();
  private readonly committer: OffsetCommitter;
  private readonly intake: Intake;
  private readonly membership: Membership;
  private readonly settler: Settler;
  private phase: Phase = 'starting';
  /** Aborted when `close` gives up on in-flight records: their late settlements are ignored. */
  private readonly abandoned = new AbortController();
  /** Aborted when `close` begins: cuts short every wait. */
  private readonly stopping = new AbortController();
  private error: Error | undefined;
  /** kafkajs crashed and restarts the consumer: no commit until it has joined the group again. */
  private restarting = false;
  private readonly ready = deferred();
  private started: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly spec: SubscribeSpec,
    handler: RecordHandler,
    observer: SettlementObserver | undefined,
    private readonly deps: SubscriptionDeps,
  ) {
    const { options, publisher, topics } = deps;
    const consumer = options.consumer;
    this.consumer = deps.connection.consumers.groupConsumer({
      groupId: spec.group,
      sessionTimeoutMs: consumer.sessionTimeoutMs,
      heartbeatIntervalMs: consumer.heartbeatIntervalMs,
      rebalanceTimeoutMs: consumer.rebalanceTimeoutMs,
      maxWaitTimeMs: consumer.maxWaitTimeMs,
      maxBytesPerPartition: consumer.maxBytesPerPartition,
    });
    this.routes = new TopicRoutes(spec, options.retryTopics);
    this.dispatcher = new KeyedDispatcher<Delivery>({
      concurrency: spec.concurrency,
      ordering: spec.ordering,
      // Per-key order holds within a topic; keys map to partitions.
      keyOf: (delivery) =>
        delivery.record.key === undefined
          ? undefined
          : `${delivery.record.topic}\u0000${delivery.record.key}`,
      run: (delivery) => this.settler.run(delivery),
      onError: (error) => this.report(error, 'a record handler chain failed'),
    });
    this.committer = new OffsetCommitter({
      committable: () => this.membership.committable(),
      canCommit: () =>
        !this.restarting &&
        this.phase !== 'reconnecting' &&
        this.phase !== 'failed' &&
        this.phase !== 'closed',
      commit: (offsets) => this.consumer.commit(offsets),
      onError: (error) => this.report(error, 'committing offsets failed; trying again'),
      onRetry: (error, delayMs) =>
        error === undefined
          ? this.info(
              'closing: waiting for kafkajs to restart the consumer to commit the settled positions',
              {
                inMs: delayMs,
              },
            )
          : this.info('closing: committing the settled positions failed; trying again', {
              error: describeKafkaError(error),
              inMs: delayMs,
            }),
      intervalMs: consumer.commitIntervalMs,
    });
    const stopping = this.stopping.signal;
    const abandoned = this.abandoned.signal;
    const closing = (): boolean => this.phase === 'closing' || this.phase === 'closed';
    const report = (error: unknown, what: string): Error => this.report(error, what);
    this.intake = new Intake({
      consumer: this.consumer,
      dispatcher: this.dispatcher,
      routes: this.routes,
      partitions: this.partitions,
      // A partition buffers at least the subscription's prefetch (never below its concurrency),
      // so that one partition can keep every handler slot busy and have the next records on hand
      // (a batch subscription's next batch) before fetching pauses for backpressure.
      options: { ...consumer, maxBufferedRecords: Math.max(consumer.maxBufferedRecords, spec.prefetch) },
      stopping,
      closing,
    });
    this.membership = new Membership({
      spec,
      partitions: this.partitions,
      intake: this.intake,
      committer: this.committer,
      admin: () => deps.connection.admin(),
      stopping,
      abandoned,
      closing,
      onAssigned: () => {
        if (this.phase === 'reconnecting') this.phase = 'running';
      },
      onPositioned: () => this.ready.resolve(),
      info: (message, fields) => this.info(message, fields),
      report,
    });
    this.settler = new Settler({
      group: spec.group,
      handler,
      deadLetters: new DeadLetters({ topics, publisher, observer, stopping, abandoned, report }),
      retries: new Retries({
        routes: this.routes,
        publisher,
        committer: this.committer,
        intake: this.intake,
        stopping,
        report,
      }),
      committer: this.committer,
      intake: this.intake,
      abandoned,
      report,
    });
  }

  /** Every Kafka topic the subscription consumes: the subscribed ones and their retry topics. */
  get kafkaTopics(): string[] {
    return this.routes.kafkaTopics;
  }

  /** The consumer group. */
  get group(): string {
    return this.spec.group;
  }

  /** The topics subscribed (not their retry topics). */
  get topics(): readonly string[] {
    return this.spec.topics;
  }

  /** This member's id in its group, once it joined. */
  get memberId(): string | undefined {
    return this.membership.memberId;
  }

  /**
   * Moves this member's partitions of `topic` named in `offsets` (partition → offset) there, for a
   * replay (see `Membership.rewind`); resolves with the partitions it moved.
   */
  rewind(topic: string, offsets: ReadonlyMap<number, number>): Promise<number[]> {
    if (this.phase !== 'running') return Promise.resolve([]);
    return this.membership.rewind(topic, offsets);
  }

  get state(): SubscriptionState {
    switch (this.phase) {
      case 'closing':
      case 'closed':
        return 'closed';
      case 'running':
        return this.intake.paused ? 'paused' : 'running';
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
    return subscriptionLag(await this.deps.connection.admin(), this.spec, this.routes);
  }

  /**
   * Joins the group and resolves once the first assignment is positioned: from then on, records
   * published to the topics reach the group, even when it starts from the latest offset.
   */
  start(): Promise<void> {
    this.started ??= this.join();
    return this.started;
  }

  pause(): void {
    if (this.intake.paused || this.phase === 'closing' || this.phase === 'closed') return;
    this.intake.pause();
  }

  resume(): void {
    this.intake.resume();
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.signal);
    return this.closing;
  }

  private async join(): Promise<void> {
    const { options, topics } = this.deps;
    const kafkaTopics = this.kafkaTopics;
    try {
      await topics.ensure(kafkaTopics);
      await withTimeout(
        (async () => {
          await this.consumer.run(
            kafkaTopics,
            { fromBeginning: this.spec.startFrom === 'earliest' },
            {
              batch: (batch) => this.intake.onBatch(batch),
              assigned: (assignment) => {
                this.restarting = false;
                this.membership.onGroupJoin(assignment);
              },
              rebalancing: () => this.membership.onRebalancing(),
              fetchStarted: () => this.membership.onFetchStart(),
              crashed: (error, restart) => this.onCrash(error, restart),
            },
          );
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

  private onCrash(error: unknown, restart: boolean): void {
    this.report(error, restart ? 'the consumer crashed; kafkajs restarts it' : 'the consumer crashed');
    if (isConnectionProblem(error)) this.deps.connection.monitor.lost(error);
    this.intake.freeze();
    // Until kafkajs has joined again, a commit would fail with "consumer group was not initialized".
    this.restarting = restart;
    if (this.phase === 'closing' || this.phase === 'closed') return;
    if (restart) {
      if (this.phase === 'running') this.phase = 'reconnecting';
      return;
    }
    this.phase = 'failed';
    this.ready.reject(this.deps.options.redactor.error(error));
  }

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
    this.intake.stop();
    const idle = this.dispatcher.idle();
    if (signal === undefined) await idle;
    else await Promise.race([idle, whenAborted(signal)]);
    if (signal?.aborted) this.abandoned.abort();
    await this.membership.drained();
    for (const state of this.partitions.values()) state.dirty = true;
    await this.commitFinal(signal);
    this.committer.stop();
    await this.consumer.disconnect().catch((error: unknown) => this.report(error, 'disconnecting failed'));
    this.phase = 'closed';
    this.deps.onClosed(this);
  }

  /**
   * Commits what was settled before leaving the group, trying again while the failure is one a
   * retry cures, until the close's signal aborts or one session timeout has passed: a member that
   * has not reached its coordinator for that long has been dropped, its partitions are another
   * member's and its commits are refused. When it gives up, says so once.
   */
  private async commitFinal(signal: AbortSignal | undefined): Promise<void> {
    const outcome = await this.committer.flushUntilCommitted({
      signal,
      deadlineMs: this.deps.options.consumer.sessionTimeoutMs,
    });
    if (outcome.committed) return;
    const why = {
      aborted: 'the close was aborted',
      deadline: `${outcome.error === undefined ? 'the consumer was still restarting' : 'still failing'} after the session timeout (${this.deps.options.consumer.sessionTimeoutMs} ms)`,
      refused: 'refused for good, e.g. the member no longer owns its partitions',
    }[outcome.reason];
    const { partitions } = outcome;
    this.report(
      outcome.error ?? new ConnectionError(`kafka: ${why}`),
      `closing: gave up committing the positions of ${partitions} partition${partitions === 1 ? '' : 's'} of group "${this.spec.group}" (${why}); their records since the last commit will be delivered again`,
    );
  }

  private info(message: string, fields: Record<string, unknown>): void {
    this.deps.log.log('info', `kafka subscription: ${message}`, { group: this.spec.group, ...fields });
  }

  /** Logs a failure and keeps it, redacted, as {@link lastError}; returns that copy. */
  private report(error: unknown, what: string): Error {
    // Shown by health checks and logs: never with a credential in it.
    const redacted = this.deps.options.redactor.error(error);
    this.error = redacted;
    this.deps.log.log(isConnectionProblem(error) ? 'warn' : 'error', `kafka subscription: ${what}`, {
      group: this.spec.group,
      topics: this.spec.topics,
      error: describeKafkaError(error),
    });
    return redacted;
  }
}

/** @internal Thrown by `subscribe` when the adapter closed while the subscription was starting. */
export function closedWhileStarting(group: string): ClosedError {
  return new ClosedError(`kafka: the adapter closed while group "${group}" was joining`);
}
