/**
 * Kafka protocol error names, as both clients report them (kafkajs as `type`, @platformatic/kafka as
 * `apiId`), sorted by what a retry can do about them. `errors.ts` and each client's error reading
 * share them.
 *
 * @module
 */

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

/** @internal Broker refusals that a smaller record would cure. */
export const SIZE_TYPES: ReadonlySet<string> = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/**
 * @internal Offset-commit refusals a later commit can get past: the coordinator moves or loads (kafkajs marks
 * these retriable), and a rebalance completing (kafkajs marks it not retriable, but the member that
 * rejoins commits with its new generation).
 */
export const RETRIABLE_COMMIT_TYPES: ReadonlySet<string> = new Set([
  // kafkajs spells these three by their old Kafka names, @platformatic/kafka by the current ones.
  'NOT_COORDINATOR_FOR_GROUP',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
  'NOT_COORDINATOR',
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'REBALANCE_IN_PROGRESS',
  'REQUEST_TIMED_OUT',
]);

/** @internal Refusals of a member the coordinator dropped: its partitions are another member's now. */
export const DROPPED_MEMBER_TYPES: ReadonlySet<string> = new Set([
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'FENCED_INSTANCE_ID',
]);
