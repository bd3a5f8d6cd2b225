/**
 * What a subscription needs from a Kafka client's group consumer. Each client implements it in
 * `client/<name>/consumer.ts`. The subscription (subscription/*) keeps every guarantee itself:
 * which offset is committed (never past the lowest unsettled one), the commit metadata, the drain
 * handshake across a rebalance, backpressure; the client only moves records and group membership.
 *
 * What the two clients differ in, and this interface allows for:
 * - kafkajs runs its own fetch loop and calls back per batch; @platformatic/kafka can let the
 *   implementation run one over `Consumer.fetch` while it holds the group membership
 *   (`joinGroup`). Either way {@link GroupConsumerHandlers.batch} is called one batch at a time
 *   and its promise is the backpressure.
 * - Rebalances are eager on both (classic protocol): {@link GroupConsumerHandlers.rebalancing}
 *   says one began, {@link GroupConsumerHandlers.assigned} gives the new assignment. Neither client
 *   waits for in-flight handlers before re-joining; the commit metadata's drain marker covers that.
 *
 * @module
 */

import type { FetchedRecord } from './reader';

/** @internal Settings of a group consumer; the subscription fills them from its options. */
export interface GroupConsumerSettings {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  /** How long a fetch waits at the broker for records. */
  readonly maxWaitTimeMs: number;
  readonly maxBytesPerPartition: number;
}

/** @internal The records of one partition that one fetch brought, read-committed. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  /** Records in offset order; no transaction markers, none of aborted transactions. */
  readonly records: readonly FetchedRecord[];
  /** The offset of the last record the fetch covered, transaction markers included. */
  readonly lastOffset: number;
  /** True once a seek on the partition made this batch out of date (it will be fetched again). */
  isStale(): boolean;
  /** Records below `next` are taken in: the partition is fetched from `next` on (`next` > 0). */
  resolve(next: number): void;
}

/** @internal This member's share of the group after a join. */
export interface MemberAssignment {
  readonly memberId: string;
  readonly partitions: Readonly<Record<string, readonly number[]>>;
}

/** @internal A partition's position to commit, with the adapter's metadata string beside it. */
export interface OffsetCommitRequest {
  readonly topic: string;
  readonly partition: number;
  /** The offset of the next record to handle. */
  readonly offset: number;
  readonly metadata: string;
}

/** @internal What the consumer calls back. None of them may throw. */
export interface GroupConsumerHandlers {
  /**
   * Records of one partition. Called one batch at a time; the next fetch waits for the promise
   * (backpressure). The handler calls `batch.resolve` for what it took in.
   */
  batch(batch: PartitionBatch): Promise<void>;
  /** The member joined (again) with this assignment; seeks and commits are accepted from the next fetch. */
  assigned(assignment: MemberAssignment): void;
  /** A rebalance began: the member is about to lose its assignment and join again. */
  rebalancing(): void;
  /** A fetch round begins (the first after a join is when positions may be read and applied). */
  fetchStarted(): void;
  /** The consumer failed; `restarting` when the client rejoins by itself. */
  crashed(error: unknown, restarting: boolean): void;
}

/**
 * @internal One member of a consumer group on a set of topics, created per subscription.
 * @example
 * const consumer = connection.consumers.groupConsumer(settings);
 * await consumer.run(['orders'], { fromBeginning: false }, handlers);
 */
export interface KafkaGroupConsumer {
  /**
   * Connects, subscribes to `topics` (waiting briefly for topics just made to be served) and starts
   * fetching; resolves once it runs, before the first assignment. Partitions the group committed
   * no offset for start at the earliest offset with `fromBeginning`, else at the latest.
   */
  run(
    topics: readonly string[],
    options: { readonly fromBeginning: boolean },
    handlers: GroupConsumerHandlers,
  ): Promise<void>;
  /** Stops fetching a partition; a no-op while the client restarts (the next assignment applies). */
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
  /** Resumes every partition of `topics` (pauses may not survive a restart). */
  resumeTopics(topics: readonly string[]): void;
  /** Fetches a partition from `offset` next; batches fetched before turn stale. */
  seek(topic: string, partition: number, offset: number): void;
  /**
   * Commits positions with metadata, as this member of the current generation. Rejects with the
   * client's error (`errors.ts` tells retriable failures from a member dropped by the group).
   */
  commit(offsets: readonly OffsetCommitRequest[]): Promise<void>;
  /** Leaves the group and closes the connections; rejects with the client's error. */
  disconnect(): Promise<void>;
}

/** @internal Makes group consumers: `connection.ts` hands one factory to every subscription. */
export interface KafkaConsumerFactory {
  groupConsumer(settings: GroupConsumerSettings): KafkaGroupConsumer;
}
