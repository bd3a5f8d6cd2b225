/**
 * What the adapter needs to know of a kafkajs error. kafkajs chains its errors through `cause` (a
 * retry loop that gave up wraps the error it gave up on), names them `KafkaJS...`, and carries
 * Kafka's error name as `type` and its own verdict as `retriable`.
 *
 * @module
 */

import {
  DROPPED_MEMBER_TYPES,
  PERMANENT_TYPES,
  RETRIABLE_COMMIT_TYPES,
  SIZE_TYPES,
} from '../protocol-errors';

/** @internal The fields of a kafkajs error this file reads. */
export interface KafkaJSLike {
  readonly name?: string;
  readonly message?: string;
  readonly type?: string;
  readonly retriable?: boolean;
  readonly cause?: unknown;
}

const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

/** Errors kafkajs raises itself that are final: a failed SASL exchange, a request it will not retry. */
const PERMANENT_NAMES = new Set(['KafkaJSSASLAuthenticationError', 'KafkaJSNonRetriableError']);

/**
 * @internal Each error of a `cause` chain, outermost first.
 * @example
 * for (const e of causeChain(error)) console.log(e.name);
 */
export function* causeChain(error: unknown): Generator<KafkaJSLike> {
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    yield current as KafkaJSLike;
    current = (current as KafkaJSLike).cause;
  }
}

/**
 * @internal One line about an error: its innermost message, and its protocol error type.
 * @example
 * describeChain(error); // 'The group is rebalancing (REBALANCE_IN_PROGRESS)'
 */
export function describeChain(error: unknown): string {
  let root: KafkaJSLike | undefined;
  for (const current of causeChain(error)) root = current;
  const message = root?.message ?? String(root);
  return root?.type !== undefined && !message.includes(root.type) ? `${message} (${root.type})` : message;
}

/**
 * @internal Whether a kafkajs error means the broker could not be reached.
 * @example
 * if (isConnectionProblem(error)) monitor.lost(error);
 */
export function isConnectionProblem(error: unknown): boolean {
  for (const current of causeChain(error)) if (CONNECTION_ERRORS.has(current.name ?? '')) return true;
  return false;
}

/**
 * @internal Whether kafkajs says that sending the same request again cannot succeed.
 * @example
 * const permanent = isPermanent(error);
 */
export function isPermanent(error: unknown): boolean {
  if (isConnectionProblem(error)) return false;
  let innermost: KafkaJSLike | undefined;
  for (const current of causeChain(error)) {
    if (PERMANENT_TYPES.has(current.type ?? '') || PERMANENT_NAMES.has(current.name ?? '')) return true;
    innermost = current;
  }
  // kafkajs gives up on a retriable error with KafkaJSNumberOfRetriesExceeded (not retriable itself):
  // what counts is the error it gave up on.
  return innermost?.retriable === false && innermost.name !== 'KafkaJSNumberOfRetriesExceeded';
}

/**
 * @internal Whether committing again may succeed where this kafkajs commit failed.
 * @example
 * if (!isRetriableCommitFailure(error)) stop();
 */
export function isRetriableCommitFailure(error: unknown): boolean {
  if (isConnectionProblem(error)) return true;
  let innermost: KafkaJSLike | undefined;
  for (const current of causeChain(error)) {
    const type = current.type ?? '';
    if (DROPPED_MEMBER_TYPES.has(type) || PERMANENT_TYPES.has(type)) return false;
    if (RETRIABLE_COMMIT_TYPES.has(type)) return true;
    innermost = current;
  }
  // As kafkajs decides whether to restart a crashed consumer: by the error it started from, since it
  // wraps a retriable one in KafkaJSNonRetriableError when a lookup bails out (a coordinator lookup
  // meeting LEADER_NOT_AVAILABLE while the cluster elects leaders).
  return innermost?.retriable === true;
}

/**
 * @internal Whether kafkajs reports the broker refusing a record (or batch) for its size.
 * @example
 * if (isSizeRefusal(error)) sendTheMinimalCopy();
 */
export function isSizeRefusal(error: unknown): boolean {
  for (const current of causeChain(error)) if (SIZE_TYPES.has(current.type ?? '')) return true;
  return false;
}
