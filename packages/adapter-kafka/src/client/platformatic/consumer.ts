import {
  type BaseOptions,
  Consumer,
  type ConsumerGroupJoinPayload,
  offsetCommitV8,
  offsetCommitV9,
} from '@platformatic/kafka';
import { sleep } from '@tidings/core/adapter';
import { SUBSCRIPTION_AWARE_ASSIGNER } from '../../subscription/assigner';
import type { ConnectionWatcher } from '../client';
import type {
  GroupConsumerHandlers,
  GroupConsumerSettings,
  KafkaConsumerFactory,
  KafkaGroupConsumer,
  OffsetCommitRequest,
  PartitionBatch,
} from '../consumer';
import { subscriptionAware } from './assigner';
import { isConnectionProblem, isPermanent, kafkaErrorNames, topicNotServed } from './errors';
import {
  fetchRound,
  OFFSET_OUT_OF_RANGE,
  type PartitionAnswer,
  type PartitionFetch,
  READ_COMMITTED,
} from './fetch-round';
import { endOffsets, keyOf, startOffsets } from './positions';
import { type EventSource, watchConnections } from './watch';

/**
 * Group consumers on `@platformatic/kafka`. The client's message stream pauses only as a whole, so
 * this holds the group membership with `joinGroup` (the client heartbeats and re-joins by itself)
 * and runs its own fetch loop over `Consumer.fetch`: positions, pauses and seeks per partition,
 * one batch handed over at a time. The client's own commit sends no metadata, so commits are raw
 * OffsetCommit requests as the member, under its current generation.
 *
 * @module
 */

/** OffsetCommit's API key, to learn the broker's highest version (v9 from Kafka 3.x, v8 before). */
const OFFSET_COMMIT_KEY = 8;
/** How often to ask again for a topic just made, and the longest pause between asks. */
const SERVED_ATTEMPTS = 8;
const SERVED_BACKOFF_CAP_MS = 2_000;
/** The pause after a round that failed or brought only errors, so a broken partition does not spin. */
const FAILED_ROUND_PAUSE_MS = 200;
/** How long an idle loop (no assignment, all paused) sleeps before it looks again unless woken. */
const IDLE_MS = 1_000;

/**
 * @internal Group consumers on clients made with `base`; their failed connections go to `monitor`.
 * @example
 * const consumers = platformaticConsumers(baseOptions(options), monitor);
 * const consumer = consumers.groupConsumer({ groupId: 'billing', ...timings });
 */
export function platformaticConsumers(base: BaseOptions, monitor: ConnectionWatcher): KafkaConsumerFactory {
  return {
    groupConsumer: (settings) => new PlatformaticGroupConsumer(base, settings, monitor),
  };
}

class PlatformaticGroupConsumer implements KafkaGroupConsumer {
  private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  private readonly stopped = new AbortController();
  private readonly unlisten: (() => void)[] = [];
  /** The current assignment by partition key; undefined while not a member or re-joining. */
  private assignment: Map<string, readonly [string, number]> | undefined;
  /** Counts joins: a batch fetched under an earlier one is stale. */
  private joins = 0;
  /** Positions to fetch from, by partition key; read from the group after each join. */
  private readonly positions = new Map<string, number>();
  /** Counts seeks per partition: a batch fetched before a seek is stale. */
  private readonly seeks = new Map<string, number>();
  private readonly paused = new Set<string>();
  private positionsDue = false;
  private fromBeginning = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private commitApi: typeof offsetCommitV9.api | typeof offsetCommitV8.api | undefined;

  constructor(
    base: BaseOptions,
    private readonly settings: GroupConsumerSettings,
    private readonly monitor: ConnectionWatcher,
  ) {
    this.consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...base,
      groupId: settings.groupId,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      autocommit: false,
      isolationLevel: READ_COMMITTED,
    });
  }

  async run(
    topics: readonly string[],
    { fromBeginning }: { readonly fromBeginning: boolean },
    handlers: GroupConsumerHandlers,
  ): Promise<void> {
    this.fromBeginning = fromBeginning;
    this.listen(handlers);
    await this.untilServed(topics);
    this.consumer.topics.trackAll(...topics);
    // Ours first; round robin second, the name kafkajs's members offer, so that a group can agree on
    // a protocol while members of both clients (or an older version) share it in a rolling deploy.
    // The client runs the same assigner whichever protocol the group picks.
    const protocols = [SUBSCRIPTION_AWARE_ASSIGNER, 'RoundRobinAssigner'].map((name) => ({
      name,
      version: 0,
      metadata: Buffer.alloc(0),
    }));
    // Resolves once run() is running, before the first assignment, as on kafkajs: the join goes on.
    this.consumer.joinGroup({ protocols, partitionAssigner: subscriptionAware }).catch((error: unknown) => {
      if (!this.stopped.signal.aborted) handlers.crashed(error, false);
    });
    this.loop = this.fetchLoop(handlers);
  }

  pause(topic: string, partition: number): void {
    this.paused.add(keyOf(topic, partition));
  }

  resume(topic: string, partition: number): void {
    if (this.paused.delete(keyOf(topic, partition))) this.wake();
  }

  resumeTopics(topics: readonly string[]): void {
    for (const key of this.paused)
      if (topics.some((topic) => key.startsWith(`${topic}\u0000`))) this.paused.delete(key);
    this.wake();
  }

  seek(topic: string, partition: number, offset: number): void {
    const key = keyOf(topic, partition);
    this.positions.set(key, offset);
    this.seeks.set(key, (this.seeks.get(key) ?? 0) + 1);
    this.wake();
  }

  async commit(offsets: readonly OffsetCommitRequest[]): Promise<void> {
    const { groupId } = this.consumer;
    const byTopic = new Map<string, OffsetCommitRequest[]>();
    for (const o of offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), o]);
    const topics = [...byTopic].map(([name, list]) => ({
      name,
      partitions: list.map((o) => ({
        partitionIndex: o.partition,
        committedOffset: BigInt(o.offset),
        committedLeaderEpoch: -1,
        committedMetadata: o.metadata,
      })),
    }));
    const coordinator = await this.consumer.findGroupCoordinator();
    const connection = (await this.consumer.connectToBrokers([coordinator])).get(coordinator);
    if (connection === undefined) throw new Error(`kafka: cannot reach the coordinator of "${groupId}"`);
    this.commitApi ??= await this.offsetCommitApi();
    for (let attempt = 0; ; attempt++) {
      // Read at the last moment: the client re-joins by itself, and a commit the subscription made
      // as the rebalance began must go as the member it is now, not the generation it was.
      const { memberId, generationId } = this.consumer;
      if (memberId === null) {
        throw Object.assign(new Error(`kafka: the consumer of group "${groupId}" is not a member yet`), {
          type: 'UNKNOWN_MEMBER_ID',
        });
      }
      try {
        await this.commitApi.async(connection, groupId, generationId, memberId, null, topics);
        return;
      } catch (error) {
        // The join completed while the request was under way: once more, as the new generation.
        const renewed = this.consumer.generationId !== generationId && this.consumer.memberId !== null;
        if (attempt > 0 || !renewed || !kafkaErrorNames(error).includes('ILLEGAL_GENERATION')) throw error;
      }
    }
  }

  async disconnect(): Promise<void> {
    this.stopped.abort();
    this.wake();
    try {
      await this.loop;
      // Leaves the group (the client sends LeaveGroup for a member that joined) and closes sockets.
      await this.consumer.close();
    } finally {
      for (const remove of this.unlisten.splice(0)) remove();
    }
  }

  private async offsetCommitApi() {
    const versions = (await this.consumer.listApis()).find((api) => api.apiKey === OFFSET_COMMIT_KEY);
    return (versions?.maxVersion ?? 0) >= 9 ? offsetCommitV9.api : offsetCommitV8.api;
  }

  /** Asks for the topics' metadata until each partition has a leader: a topic just made may lag. */
  private async untilServed(topics: readonly string[]): Promise<void> {
    for (let attempt = 0; attempt < SERVED_ATTEMPTS; attempt++) {
      try {
        const metadata = await this.consumer.metadata({
          topics: [...topics],
          autocreateTopics: false,
          forceUpdate: true,
        });
        const led = topics.every((topic) =>
          (metadata.topics.get(topic)?.partitions ?? []).every((p) => p.leader >= 0),
        );
        if (led) return;
      } catch (error) {
        if (topicNotServed(error) === undefined || attempt === SERVED_ATTEMPTS - 1) throw error;
      }
      const backoff = Math.min(100 * 2 ** attempt, SERVED_BACKOFF_CAP_MS);
      if (!(await sleep(backoff, this.stopped.signal))) return;
    }
    // Leaders still being elected: the fetch loop asks again as it goes.
  }

  private listen(handlers: GroupConsumerHandlers): void {
    const source = this.consumer as unknown as EventSource;
    const on = (event: string, listener: (...args: unknown[]) => void) => {
      source.on(event, listener);
      this.unlisten.push(() => source.removeListener(event, listener));
    };
    on('consumer:group:rebalance', () => this.onRebalance(handlers));
    on('consumer:group:join', (payload) => this.onJoin(payload as ConsumerGroupJoinPayload, handlers));
    // A re-join that failed for good: the client gives up on the membership.
    on('error', (error) => {
      if (!this.stopped.signal.aborted) handlers.crashed(error, false);
    });
    this.unlisten.push(watchConnections(source, this.monitor));
  }

  /** The coordinator asked the member to join again: its partitions are about to go. */
  private onRebalance(handlers: GroupConsumerHandlers): void {
    if (this.assignment === undefined) return;
    this.assignment = undefined;
    this.joins++;
    handlers.rebalancing();
  }

  private onJoin(payload: ConsumerGroupJoinPayload, handlers: GroupConsumerHandlers): void {
    // Joined again without being told of a rebalance (the session ran out): say so first.
    if (this.assignment !== undefined) handlers.rebalancing();
    const partitions: Record<string, number[]> = {};
    const assignment = new Map<string, readonly [string, number]>();
    for (const { topic, partitions: numbers } of payload.assignments ?? []) {
      partitions[topic] = [...numbers];
      for (const partition of numbers) assignment.set(keyOf(topic, partition), [topic, partition]);
    }
    this.joins++;
    this.assignment = assignment;
    // As kafkajs does after a join, positions are read from the group again.
    this.positions.clear();
    this.positionsDue = true;
    handlers.assigned({ memberId: payload.memberId, partitions });
    this.wake();
  }

  private wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  /** Sleeps up to `ms`, until woken (a join, a resume, a seek) or stopped. */
  private async idle(ms: number): Promise<void> {
    const { signal } = this.stopped;
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (this.wakeUp === done) this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wakeUp = done;
    });
  }

  private async fetchLoop(handlers: GroupConsumerHandlers): Promise<void> {
    let forceMetadata = false;
    let failedRounds = 0;
    while (!this.stopped.signal.aborted) {
      const assignment = this.assignment;
      if (assignment === undefined || assignment.size === 0) {
        await this.idle(IDLE_MS);
        continue;
      }
      const joins = this.joins;
      handlers.fetchStarted();
      try {
        if (this.positionsDue) {
          this.positionsDue = false;
          await this.loadPositions(assignment, joins).catch((error: unknown) => {
            this.positionsDue = true;
            throw error;
          });
        }
        if (joins !== this.joins || this.stopped.signal.aborted) continue;
        const wanted: PartitionFetch[] = [];
        for (const [key, [topic, partition]] of assignment) {
          const offset = this.positions.get(key);
          if (offset !== undefined && !this.paused.has(key)) wanted.push({ key, topic, partition, offset });
        }
        if (wanted.length === 0) {
          await this.idle(this.settings.maxWaitTimeMs);
          continue;
        }
        const seeksAt = new Map(wanted.map((w) => [w.key, this.seeks.get(w.key) ?? 0]));
        const { answers, failures } = await fetchRound(this.consumer, wanted, this.settings, forceMetadata);
        forceMetadata = false;
        for (const failure of failures) if (!this.noteFailure(failure, handlers)) return;
        let erred = failures.length > 0;
        for (const answer of answers) {
          if (this.stopped.signal.aborted) break;
          const seeks = seeksAt.get(answer.key) ?? 0;
          const current = () => joins === this.joins && (this.seeks.get(answer.key) ?? 0) === seeks;
          if (!current() || this.paused.has(answer.key)) continue;
          if (answer.error !== undefined) {
            erred = true;
            if (answer.error === OFFSET_OUT_OF_RANGE) await this.resetPosition(answer, joins, seeks);
            else forceMetadata = true;
            continue;
          }
          if (answer.lastOffset === undefined) continue;
          if (answer.records.length === 0) {
            // Only transaction markers or aborted records: step past them without a handler.
            this.positions.set(answer.key, Math.max(answer.offset, answer.lastOffset + 1));
            continue;
          }
          await handlers.batch(this.batchOf(answer, current));
        }
        failedRounds = erred ? failedRounds + 1 : 0;
      } catch (error) {
        if (this.stopped.signal.aborted) break;
        forceMetadata = true;
        failedRounds++;
        if (!this.noteFailure(error, handlers)) return;
      }
      if (failedRounds > 0) {
        await sleep(Math.min(FAILED_ROUND_PAUSE_MS * failedRounds, IDLE_MS), this.stopped.signal);
      }
    }
  }

  /** Reports a failed request; false when it is final (the consumer crashed and stops fetching). */
  private noteFailure(error: unknown, handlers: GroupConsumerHandlers): boolean {
    if (isConnectionProblem(error)) {
      this.monitor.lost(error);
      return true;
    }
    if (!isPermanent(error)) return true;
    handlers.crashed(error, false);
    return false;
  }

  private batchOf(answer: PartitionAnswer, current: () => boolean): PartitionBatch {
    return {
      topic: answer.topic,
      partition: answer.partition,
      records: answer.records,
      lastOffset: answer.lastOffset ?? answer.offset - 1,
      isStale: () => !current(),
      resolve: (next) => {
        if (current()) this.positions.set(answer.key, next);
      },
    };
  }

  /**
   * Positions the assignment's partitions that no seek positioned since the join: the group's
   * committed offset, else the earliest or latest offset as `fromBeginning` says.
   */
  private async loadPositions(assignment: Map<string, readonly [string, number]>, joins: number) {
    const unpositioned = [...assignment.values()].filter(([t, p]) => !this.positions.has(keyOf(t, p)));
    if (unpositioned.length === 0) return;
    const starts = await startOffsets(this.consumer, unpositioned, this.fromBeginning);
    if (joins !== this.joins) return;
    for (const [key, offset] of starts) if (!this.positions.has(key)) this.positions.set(key, offset);
  }

  /** The fetch offset fell outside the log (retention, a truncated log): start over as configured. */
  private async resetPosition(answer: PartitionAnswer, joins: number, seeks: number): Promise<void> {
    const ends = await endOffsets(this.consumer, [[answer.topic, answer.partition]], this.fromBeginning);
    const offset = ends.get(answer.key);
    if (offset === undefined || joins !== this.joins || (this.seeks.get(answer.key) ?? 0) !== seeks) return;
    this.positions.set(answer.key, offset);
  }
}
