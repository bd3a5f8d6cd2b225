import { ConnectionError, PublishError, type Redactor, TidingsError } from '@tidings/core/adapter';

interface KafkaJSLike {
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

/**
 * @internal Protocol errors that sending the same request again cannot cure, whichever client
 * reports them: the record is too large or invalid, or the client is not allowed to do it. Both
 * clients mark most of them as not retriable; they are listed so that the verdict does not hang on
 * that flag alone.
 */
export const PERMANENT_TYPES: ReadonlySet<string> = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_REQUIRED_ACKS',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
]);

/** Errors kafkajs raises itself that are final: a failed SASL exchange, a request it will not retry. */
const PERMANENT_NAMES = new Set(['KafkaJSSASLAuthenticationError', 'KafkaJSNonRetriableError']);

/** Broker refusals that a smaller record would cure. */
const SIZE_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/**
 * What was known of the raw kafkajs error behind an error the adapter made: the redacted copy it
 * keeps as `cause` has lost kafkajs's `retriable` flag.
 */
const verdicts = new WeakMap<object, { readonly permanent: boolean; readonly size: boolean }>();

/** Each error of a `cause` chain, outermost first. */
function* chain(error: unknown): Generator<KafkaJSLike> {
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    yield current as KafkaJSLike;
    current = (current as KafkaJSLike).cause;
  }
}

/** @internal The innermost cause of a kafkajs error (kafkajs wraps retried errors). */
export function rootCause(error: unknown): unknown {
  let root: unknown = error;
  for (const current of chain(error)) root = current;
  return root;
}

/** @internal One line about a kafkajs error: its innermost message and protocol error type. */
export function describeKafkaError(error: unknown): string {
  const root = rootCause(error) as KafkaJSLike;
  const message = root?.message ?? String(root);
  return root?.type !== undefined && !message.includes(root.type) ? `${message} (${root.type})` : message;
}

/** @internal Whether a kafkajs error means the broker could not be reached. */
export function isConnectionProblem(error: unknown): boolean {
  for (const current of chain(error)) if (CONNECTION_ERRORS.has(current.name ?? '')) return true;
  return false;
}

/**
 * @internal Whether trying the same request again cannot succeed: the broker refused the record
 * (too large, invalid), the client is not allowed (authorisation, SASL), or the adapter's own
 * checks refused it (a bad topic, a missing topic it may not create). A connection problem is never
 * permanent: the broker may come back.
 */
export function isPermanent(error: unknown): boolean {
  const known = verdictOf(error);
  if (known !== undefined) return known.permanent;
  if (isConnectionProblem(error)) return false;
  let innermost: KafkaJSLike | undefined;
  for (const current of chain(error)) {
    // The adapter's own refusals: a bad or missing topic it may not create, a record over the limit.
    const code = current instanceof TidingsError ? current.code : undefined;
    if (code === 'CONFIG' || code === 'MESSAGE_TOO_LARGE') return true;
    if (PERMANENT_TYPES.has(current.type ?? '') || PERMANENT_NAMES.has(current.name ?? '')) return true;
    innermost = current;
  }
  // kafkajs gives up on a retriable error with KafkaJSNumberOfRetriesExceeded (not retriable itself):
  // what counts is the error it gave up on.
  return innermost?.retriable === false && innermost.name !== 'KafkaJSNumberOfRetriesExceeded';
}

/**
 * Offset-commit refusals a later commit can get past: the coordinator moves or loads (kafkajs marks
 * these retriable), and a rebalance completing (kafkajs marks it not retriable, but the member that
 * rejoins commits with its new generation).
 */
const RETRIABLE_COMMIT_TYPES = new Set([
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
  'REBALANCE_IN_PROGRESS',
  'REQUEST_TIMED_OUT',
]);

/** Refusals of a member the coordinator dropped: its partitions are another member's now. */
const DROPPED_MEMBER_TYPES = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID']);

/**
 * @internal Whether committing offsets again may succeed where this commit failed: the broker could
 * not be reached or answered late, or the group coordinator was moving, loading or rebalancing. A
 * member the coordinator dropped (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID), an
 * authorisation refusal or anything else kafkajs calls final is not: its partitions belong to
 * another member now, or no retry changes the answer.
 */
export function isRetriableCommitFailure(error: unknown): boolean {
  if (isConnectionProblem(error)) return true;
  let innermost: KafkaJSLike | undefined;
  for (const current of chain(error)) {
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

/** @internal Whether the broker refused a record (or batch) for its size. */
export function isSizeRefusal(error: unknown): boolean {
  const known = verdictOf(error);
  if (known !== undefined) return known.size;
  for (const current of chain(error)) if (SIZE_TYPES.has(current.type ?? '')) return true;
  return false;
}

function verdictOf(error: unknown): { readonly permanent: boolean; readonly size: boolean } | undefined {
  for (const current of chain(error)) {
    const known = typeof current === 'object' ? verdicts.get(current) : undefined;
    if (known !== undefined) return known;
  }
  return undefined;
}

/**
 * @internal A failed send as a `PublishError` naming the topic(s), credentials redacted. Whether the
 * broker's refusal was permanent, or about size, is remembered for {@link isPermanent} and
 * {@link isSizeRefusal}.
 */
export function publishError(error: unknown, topics: readonly string[], redactor: Redactor): PublishError {
  const where =
    topics.length === 1 ? `topic "${topics[0]}"` : `topics ${topics.map((t) => `"${t}"`).join(', ')}`;
  const failure = new PublishError(
    redactor.text(`kafka: publishing to ${where} failed: ${describeKafkaError(error)}`),
    {
      cause: redactor.error(error),
      ...(topics.length === 1 ? { topic: topics[0]! } : {}),
    },
  );
  verdicts.set(failure, { permanent: isPermanent(error), size: isSizeRefusal(error) });
  return failure;
}

/**
 * @internal A failed connection attempt as a `ConnectionError`, credentials redacted. The cause
 * stays (redacted), so that a closed port (`ECONNREFUSED`) and a refused password (`SASL ...
 * authentication failed`) read differently.
 */
export function connectionError(
  error: unknown,
  brokers: readonly string[],
  redactor: Redactor,
): ConnectionError {
  const failure = new ConnectionError(
    redactor.text(`kafka: cannot connect to ${brokers.join(', ')}: ${describeKafkaError(error)}`),
    { cause: redactor.error(error) },
  );
  verdicts.set(failure, { permanent: isPermanent(error), size: false });
  return failure;
}
