import {
  ClosedError,
  ConnectionError,
  createRedactor,
  MessageTooLargeError,
  PublishError,
  type Redactor,
  type TidingsError,
} from '@tidings/core/adapter';
import { ErrorCode, NatsError } from 'nats';

/** JetStream API error codes the adapter tells apart. */
export const JS_ERR = {
  streamNotFound: 10059,
  consumerNotFound: 10014,
  consumerExists: 10148,
  consumerNameExists: 10013,
  streamNameInUse: 10058,
  /** The stream's `max_msg_size` (or the account's) is below the message. */
  messageTooLarge: 10054,
  /** The message's header block is over 64 KiB, which no stream stores. */
  headersTooLarge: 10097,
  /** A message get found no message at (or after) the sequence. */
  noMessageFound: 10037,
  /** A message delete found no message at the sequence. */
  sequenceNotFound: 10043,
} as const;

/** URL credentials only, for errors raised before an adapter's own redactor exists. */
const URLS_ONLY = createRedactor();

/** The JetStream API error code of a nats.js error, if it carries one. */
export function apiErrorCode(error: unknown): number | undefined {
  return error instanceof NatsError ? error.api_error?.err_code : undefined;
}

/** Whether a JetStream API call failed because the stream or consumer does not exist. */
export function isNotFound(error: unknown): boolean {
  const code = apiErrorCode(error);
  if (code === JS_ERR.streamNotFound || code === JS_ERR.consumerNotFound) return true;
  return error instanceof NatsError && /not found/i.test(error.message) && error.api_error?.code === 404;
}

const CONNECTION_CODES = new Set<string>([
  ErrorCode.ConnectionClosed,
  ErrorCode.ConnectionDraining,
  ErrorCode.ConnectionRefused,
  ErrorCode.ConnectionTimeout,
  ErrorCode.Disconnect,
  ErrorCode.AuthorizationViolation,
  ErrorCode.AuthenticationExpired,
  ErrorCode.BadAuthentication,
]);

function describe(error: unknown, redactor: Redactor): string {
  if (error instanceof NatsError && error.api_error !== undefined) {
    const api = error.api_error;
    return redactor.text(`${api.description} (JetStream error ${api.err_code ?? api.code})`);
  }
  return redactor.text(error instanceof Error ? error.message : String(error));
}

/**
 * Whether the server (or the client, before sending) refused a message for its size: a header
 * block over 64 KiB, a message over the stream's `max_msg_size` or the server's `max_payload`.
 * Sending the same message again can never work; a smaller one may.
 */
export function isTooLarge(error: unknown): boolean {
  if (error instanceof MessageTooLargeError) return true;
  if (isTidings(error)) return isTooLarge(error.cause);
  const code = apiErrorCode(error);
  if (code === JS_ERR.messageTooLarge || code === JS_ERR.headersTooLarge) return true;
  return error instanceof NatsError && error.code === ErrorCode.MaxPayloadExceeded;
}

/** Whether a nats.js error means the connection is gone or unusable, rather than one request failed. */
export function isConnectionFailure(error: unknown): boolean {
  return error instanceof NatsError && CONNECTION_CODES.has(error.code);
}

/**
 * Turns a failed publish into a typed Tidings error: a lost or closed connection is a
 * `ConnectionError`, everything else (no ack in time, no stream for the subject, a stream limit)
 * a `PublishError` naming the topic. The nats.js error stays as `cause`, with the secrets the
 * redactor knows removed from it as from the message.
 */
export function publishFailure(
  error: unknown,
  topic: string,
  what: string,
  redactor: Redactor = URLS_ONLY,
): TidingsError {
  if (isTidings(error)) return error;
  const cause = redactor.error(error);
  const where = `${what} to topic ${JSON.stringify(topic)}`;
  if (isConnectionFailure(error)) {
    return new ConnectionError(`${where} failed: ${describe(error, redactor)}`, { cause });
  }
  if (error instanceof NatsError && error.code === ErrorCode.Timeout) {
    return new PublishError(
      `${where} was not confirmed in time; it may or may not be stored (publish again: the duplicate window drops a repeat)`,
      { topic, cause },
    );
  }
  // nats.js gives a JetStream API error with status 503 (`maximum messages exceeded` of a full
  // stream) the same code as "no responders"; only the latter has no API error.
  if (error instanceof NatsError && error.code === ErrorCode.NoResponders && error.api_error === undefined) {
    return new PublishError(
      `${where}: no JetStream stream answered for its subject (is JetStream up, does the stream exist?)`,
      { topic, cause },
    );
  }
  return new PublishError(`${where} failed: ${describe(error, redactor)}`, { topic, cause });
}

/**
 * Turns a failure while connecting or setting up into a `ConnectionError` (kept as is if already
 * typed), its message and cause free of the secrets the redactor knows. The cause stays, so that
 * a closed port (`CONNECTION_REFUSED`) can be told from a wrong password
 * (`AUTHORIZATION_VIOLATION`).
 */
export function connectionFailure(
  error: unknown,
  what: string,
  redactor: Redactor = URLS_ONLY,
): TidingsError {
  if (isTidings(error)) return error;
  return new ConnectionError(redactor.text(`${what}: ${describe(error, redactor)}`), {
    cause: redactor.error(error),
  });
}

/** Whether the value is already a Tidings error (also across copies of the core package). */
export function isTidings(error: unknown): error is TidingsError {
  return (
    error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && 'retryable' in error
  );
}

/** The error every operation on a closed adapter rejects with. */
export function closedError(what: string, adapter: string): ClosedError {
  return new ClosedError(`cannot ${what}: the ${adapter} adapter is closed`);
}
