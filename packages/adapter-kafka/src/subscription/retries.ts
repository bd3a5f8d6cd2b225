import { attemptOf, RETRY_HEADERS, type RetrySettlement, sleep } from '@tidings/core/adapter';
import type { Publisher } from '../publisher';
import { nextCopyHeaders, retryTopicHeaders, type TopicRoutes } from '../retry-topics';
import type { OffsetCommitter } from './committer';
import type { Delivery, Intake } from './fetch';
import type { PartitionState } from './partition';

/**
 * The two roads of a retry: through a retry topic (unordered subscriptions), or in place, in the
 * consumer (ordered ones, and any retry whose retry topic could not be written).
 *
 * @module
 */

/** @internal What retries need from their subscription. */
export interface RetryDeps {
  readonly routes: TopicRoutes;
  readonly publisher: Publisher;
  readonly committer: OffsetCommitter;
  readonly intake: Intake;
  /** Aborted when `close` begins. */
  readonly stopping: AbortSignal;
  readonly report: (error: unknown, what: string) => void;
}

/** @internal Applies a subscription's retry settlements. */
export class Retries {
  constructor(private readonly deps: RetryDeps) {}

  /**
   * Unordered subscriptions retry through a retry topic: the record is re-published with its attempt
   * count and due time, and its offset settled, so the partition goes on. False when there is no
   * retry topic or publishing failed; the record is then retried in place.
   */
  async throughTopic(delivery: Delivery, settlement: RetrySettlement): Promise<boolean> {
    const { record, state } = delivery;
    const topic = this.deps.routes.retryTopic(record.topic, settlement.delayMs);
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
      this.deps.report(
        error,
        `publishing ${record.position} to retry topic "${topic}" failed; retrying in place`,
      );
      return false;
    }
  }

  /**
   * Ordered subscriptions retry in place: the record keeps its key busy (later records of the key
   * wait) and the partition's commit position stays at or before it. Its retry headers are committed
   * with the position (as a retry mark), so a restart or a new owner goes on counting.
   */
  inPlace(delivery: Delivery, settlement: RetrySettlement): Delivery {
    const { record, state } = delivery;
    const headers = nextCopyHeaders(record, settlement);
    const attempt = attemptOf(headers);
    state.retries.set(delivery.offset, { attempt, firstFailureAt: headers[RETRY_HEADERS.firstFailureAt]! });
    this.deps.committer.markDirty(state);
    return { ...delivery, record: { ...record, attempt, headers } };
  }

  /**
   * Waits out an in-place retry's delay, then for delivery to be allowed (not paused, not
   * rebalancing); false when the partition was revoked or the subscription closes first.
   */
  async waitToRedeliver(state: PartitionState, delayMs: number): Promise<boolean> {
    const signal = AbortSignal.any([state.revoked.signal, this.deps.stopping]);
    if (delayMs > 0 && !(await sleep(delayMs, signal))) return false;
    return (await this.deps.intake.whenGateOpen(signal)) && state.phase === 'active';
  }
}
