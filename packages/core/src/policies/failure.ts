import type { Settlement } from '../adapters/contract';
import type { MessageContext } from '../context/delivery';
import { NonRetryableError, toError } from '../errors';
import { type DeadLetterTopicNamer, deadLetterSettlement } from './dead-letter';
import { backoffDelay, type ResolvedRetryOptions, retryHeaders } from './retry';

/** @internal What the failure decision of one subscription needs. */
export interface FailurePolicy {
  readonly retry: ResolvedRetryOptions;
  readonly deadLetterTopic: DeadLetterTopicNamer;
}

/** @internal A failure and the settlement it leads to. */
export interface FailureVerdict {
  readonly error: Error;
  readonly settlement: Settlement;
}

/**
 * The one decision of what becomes of a delivery that failed, wherever it failed (the handler,
 * the decode step, a policy, the bus's own middleware): a retryable error with attempts left is
 * retried after the backoff delay, with the retry headers; anything else (attempts used up, an
 * error that is not worth retrying, a `retryable` predicate that throws) is dead-lettered with the
 * failure metadata. May throw only what the dead-letter topic namer throws.
 */
export function decideFailure(ctx: MessageContext, thrown: unknown, policy: FailurePolicy): FailureVerdict {
  const error = toError(thrown);
  const { retry } = policy;
  if (ctx.attempt < retry.maxAttempts) {
    let retryable: boolean;
    try {
      retryable = retry.retryable(error, ctx);
    } catch (failure) {
      const predicateError = toError(failure);
      return {
        error: predicateError,
        settlement: deadLetterSettlement(ctx, predicateError, policy.deadLetterTopic),
      };
    }
    if (retryable) {
      return {
        error,
        settlement: { type: 'retry', delayMs: backoffDelay(ctx.attempt, retry), headers: retryHeaders(ctx) },
      };
    }
  }
  return { error, settlement: deadLetterSettlement(ctx, error, policy.deadLetterTopic) };
}

/**
 * The decision for a delivery beyond the last attempt: it was never settled (its consumers crashed
 * or hung on it, as brokers that count deliveries show), so it is dead-lettered without running the
 * handler again, which could crash the next consumer too. `undefined` for a delivery within the
 * attempts.
 */
export function beyondLastAttempt(ctx: MessageContext, policy: FailurePolicy): FailureVerdict | undefined {
  const { maxAttempts } = policy.retry;
  if (ctx.attempt <= maxAttempts) return undefined;
  const error = new NonRetryableError(
    `delivered ${ctx.attempt} times without being settled (maxAttempts ${maxAttempts}); it may crash or hang its consumer`,
  );
  return { error, settlement: deadLetterSettlement(ctx, error, policy.deadLetterTopic) };
}

/**
 * @internal The failure decision for `thrown`, and should even that throw (a dead-letter topic
 * namer that fails), a retry after the longest delay, so that the record is neither lost nor
 * redelivered in a tight loop.
 *
 * @example
 * ```ts
 * const { settlement, error } = lastResortVerdict(ctx, new Error('boom'), policy);
 * ```
 */
export function lastResortVerdict(
  ctx: MessageContext,
  thrown: unknown,
  policy: FailurePolicy,
): FailureVerdict {
  try {
    return decideFailure(ctx, thrown, policy);
  } catch (namerFailure) {
    return {
      error: toError(namerFailure),
      settlement: { type: 'retry', delayMs: policy.retry.maxDelayMs, headers: retryHeaders(ctx) },
    };
  }
}
