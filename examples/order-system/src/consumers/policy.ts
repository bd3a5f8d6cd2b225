import type { IdempotencyStore, RetryOptions } from '@tidings/core';
import type { ActivityLog } from '../activity';

/**
 * How the consumers retry and how much they take on at once. Production values are the defaults;
 * the demo and the tests shorten the delays so that a retry is seen in seconds.
 */
export interface ConsumerPolicy {
  /** Retry policy of every consumer. Default: 6 attempts, 1 s doubling to 30 s. */
  readonly retry?: RetryOptions;
  /** Events a consumer handles at once. Default 32. */
  readonly concurrency?: number;
  /**
   * Put before every consumer group name. Kafka consumer groups are global to a cluster, so two
   * environments (or two test runs) sharing one must not share group names. Default none.
   */
  readonly groupPrefix?: string;
}

/** What every consumer module receives besides its own service. */
export interface ConsumerDeps {
  /** Remembers which events each group handled, so that redeliveries are skipped. */
  readonly idempotency: IdempotencyStore;
  readonly policy?: ConsumerPolicy;
  readonly activity: ActivityLog;
}

/** The default retry policy: patient enough to ride out a provider's bad minute. */
export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 6, initialDelayMs: 1_000, maxDelayMs: 30_000 };

/** Settles the retry and concurrency options of a subscription from the policy. */
export function subscriptionPolicy(policy: ConsumerPolicy | undefined): {
  readonly retry: RetryOptions;
  readonly concurrency: number;
} {
  return { retry: policy?.retry ?? DEFAULT_RETRY, concurrency: policy?.concurrency ?? 32 };
}

/** The full name of a consumer group under the policy's prefix. */
export function groupName(policy: ConsumerPolicy | undefined, group: string): string {
  return `${policy?.groupPrefix ?? ''}${group}`;
}
