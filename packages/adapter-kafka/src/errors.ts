import { ConnectionError, PublishError, type Redactor, TidingsError } from '@tidings/core/adapter';
import * as kafkajs from './client/kafkajs/errors';
import * as platformatic from './client/platformatic/errors';

/**
 * How each client's errors read (`client/kafkajs/errors.ts`, `client/platformatic/errors.ts`): the
 * adapter asks the questions below and never looks into a client's error itself.
 */
interface ErrorReading {
  describe(error: unknown): string;
  isConnectionProblem(error: unknown): boolean;
  isPermanent(error: unknown): boolean;
  isRetriableCommitFailure(error: unknown): boolean;
  isSizeRefusal(error: unknown): boolean;
}

const KAFKAJS: ErrorReading = {
  describe: kafkajs.describeChain,
  isConnectionProblem: kafkajs.isConnectionProblem,
  isPermanent: kafkajs.isPermanent,
  isRetriableCommitFailure: kafkajs.isRetriableCommitFailure,
  isSizeRefusal: kafkajs.isSizeRefusal,
};

const PLATFORMATIC: ErrorReading = {
  describe: platformatic.describeError,
  isConnectionProblem: platformatic.isConnectionProblem,
  isPermanent: platformatic.isPermanent,
  isRetriableCommitFailure: platformatic.isRetriableCommitFailure,
  isSizeRefusal: platformatic.isSizeRefusal,
};

/**
 * The reading of the client that raised `error`: @platformatic/kafka's errors carry `PLT_KFK_`
 * codes somewhere in their tree; anything else (kafkajs's, Node's, the adapter's) reads as a cause chain.
 */
function readingOf(error: unknown): ErrorReading {
  for (const current of platformatic.errorTree(error)) {
    if (typeof current.code === 'string' && current.code.startsWith('PLT_KFK_')) return PLATFORMATIC;
  }
  return KAFKAJS;
}

/**
 * What was known of the raw client error behind an error the adapter made: the redacted copy it
 * keeps as `cause` has lost the client's own verdict (kafkajs's `retriable`, platformatic's `canRetry`).
 */
const verdicts = new WeakMap<object, { readonly permanent: boolean; readonly size: boolean }>();

/** @internal One line about a client error: its innermost message and protocol error name. */
export function describeKafkaError(error: unknown): string {
  return readingOf(error).describe(error);
}

/** @internal Whether a client error means the broker could not be reached. */
export function isConnectionProblem(error: unknown): boolean {
  return readingOf(error).isConnectionProblem(error);
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
  for (const current of kafkajs.causeChain(error)) {
    // The adapter's own refusals: a bad or missing topic it may not create, a record over the limit.
    const code = current instanceof TidingsError ? current.code : undefined;
    if (code === 'CONFIG' || code === 'MESSAGE_TOO_LARGE') return true;
  }
  return readingOf(error).isPermanent(error);
}

/**
 * @internal Whether committing offsets again may succeed where this commit failed: the broker could
 * not be reached or answered late, or the group coordinator was moving, loading or rebalancing. A
 * member the coordinator dropped (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID), an
 * authorisation refusal or anything else the client calls final is not: its partitions belong to
 * another member now, or no retry changes the answer.
 */
export function isRetriableCommitFailure(error: unknown): boolean {
  return readingOf(error).isRetriableCommitFailure(error);
}

/** @internal Whether the broker refused a record (or batch) for its size. */
export function isSizeRefusal(error: unknown): boolean {
  const known = verdictOf(error);
  if (known !== undefined) return known.size;
  return readingOf(error).isSizeRefusal(error);
}

function verdictOf(error: unknown): { readonly permanent: boolean; readonly size: boolean } | undefined {
  for (const current of kafkajs.causeChain(error)) {
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
