import { ConnectionError, PublishError, toError } from '@tidings/core/adapter';

interface KafkaJSLike {
  readonly name?: string;
  readonly message?: string;
  readonly type?: string;
  readonly cause?: unknown;
}

const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

/** @internal The innermost cause of a kafkajs error (kafkajs wraps retried errors). */
export function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 10; depth++) {
    const cause = (current as KafkaJSLike | undefined)?.cause;
    if (cause === undefined || cause === null) return current;
    current = cause;
  }
  return current;
}

/** @internal One line about a kafkajs error: its innermost message and protocol error type. */
export function describeKafkaError(error: unknown): string {
  const root = rootCause(error) as KafkaJSLike;
  const message = root?.message ?? String(root);
  return root?.type !== undefined && !message.includes(root.type) ? `${message} (${root.type})` : message;
}

/** @internal Whether a kafkajs error means the broker could not be reached. */
export function isConnectionProblem(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined && current !== null; depth++) {
    if (CONNECTION_ERRORS.has((current as KafkaJSLike).name ?? '')) return true;
    current = (current as KafkaJSLike).cause;
  }
  return false;
}

/** @internal A failed send as a `PublishError` naming the topic(s). */
export function publishError(error: unknown, topics: readonly string[]): PublishError {
  const where =
    topics.length === 1 ? `topic "${topics[0]}"` : `topics ${topics.map((t) => `"${t}"`).join(', ')}`;
  return new PublishError(`kafka: publishing to ${where} failed: ${describeKafkaError(error)}`, {
    cause: toError(error),
    ...(topics.length === 1 ? { topic: topics[0]! } : {}),
  });
}

/** @internal A failed connection attempt as a `ConnectionError`. */
export function connectionError(error: unknown, brokers: readonly string[]): ConnectionError {
  return new ConnectionError(`kafka: cannot connect to ${brokers.join(', ')}: ${describeKafkaError(error)}`, {
    cause: toError(error),
  });
}
