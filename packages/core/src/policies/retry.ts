import { RETRY_HEADERS, type RecordHeaders } from '../adapters/contract';
import { checkOptionNames, type OptionNames } from '../adapters/kit/option-names';
import type { MessageContext } from '../context/delivery';
import { isoAt } from '../envelope/clock';
import { ConfigError, isTidingsError } from '../errors';
import { definedOnly } from '../internal/options';

/** Settings of the retry policy. */
export interface RetryOptions {
  /** Total deliveries allowed, the first included; 1 means no retry. Default 5. */
  readonly maxAttempts?: number;
  /** Delay before the second attempt, in milliseconds. Default 1,000. */
  readonly initialDelayMs?: number;
  /** Upper bound of any delay, in milliseconds. Default 60,000. */
  readonly maxDelayMs?: number;
  /** Growth factor of the delay from one attempt to the next. Default 2. */
  readonly multiplier?: number;
  /**
   * Fraction of each delay that is random, from 0 to 1: the delay is drawn uniformly from
   * `[d × (1 − jitter), d]`, so that consumers which failed together do not retry in lockstep.
   * Default 0.2.
   */
  readonly jitter?: number;
  /**
   * Whether an error is worth retrying. Default: every error except Tidings errors that say they
   * are not (`NonRetryableError`, validation, decode and unknown-type errors). Errors this returns
   * false for go straight to the dead-letter policy.
   */
  readonly retryable?: (error: Error, ctx: MessageContext) => boolean;
}

/** Retry settings with every default filled in. */
export type ResolvedRetryOptions = Required<RetryOptions>;

const DEFAULTS: ResolvedRetryOptions = {
  maxAttempts: 5,
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  multiplier: 2,
  jitter: 0.2,
  retryable: defaultRetryable,
};

/** The default retryable predicate: everything but errors that declare themselves permanent. */
export function defaultRetryable(error: Error): boolean {
  return !isTidingsError(error) || error.retryable;
}

/**
 * Fills in defaults and checks retry settings; a bad value is a `ConfigError` naming the field.
 * `false` means a single attempt.
 */
const RETRY_OPTION_NAMES: OptionNames<RetryOptions> = {
  maxAttempts: true,
  initialDelayMs: true,
  maxDelayMs: true,
  multiplier: true,
  jitter: true,
  retryable: true,
};

export function resolveRetryOptions(
  options: RetryOptions | false | undefined,
  field = 'retry',
): ResolvedRetryOptions {
  if (options === false) return { ...DEFAULTS, maxAttempts: 1 };
  checkOptionNames(options, RETRY_OPTION_NAMES, field);
  const merged = { ...DEFAULTS, ...definedOnly(options ?? {}) } satisfies ResolvedRetryOptions;
  const { maxAttempts, initialDelayMs, maxDelayMs, multiplier, jitter } = merged;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new ConfigError(
      `${field}.maxAttempts`,
      `must be an integer of at least 1, got ${String(maxAttempts)}`,
    );
  }
  if (!Number.isFinite(initialDelayMs) || initialDelayMs < 0) {
    throw new ConfigError(
      `${field}.initialDelayMs`,
      `must be a non-negative number, got ${String(initialDelayMs)}`,
    );
  }
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < initialDelayMs) {
    throw new ConfigError(
      `${field}.maxDelayMs`,
      `must be a number no smaller than initialDelayMs, got ${String(maxDelayMs)}`,
    );
  }
  if (!Number.isFinite(multiplier) || multiplier < 1) {
    throw new ConfigError(`${field}.multiplier`, `must be a number of at least 1, got ${String(multiplier)}`);
  }
  if (!Number.isFinite(jitter) || jitter < 0 || jitter > 1) {
    throw new ConfigError(`${field}.jitter`, `must be a number from 0 to 1, got ${String(jitter)}`);
  }
  if (typeof merged.retryable !== 'function') {
    throw new ConfigError(`${field}.retryable`, 'must be a function');
  }
  return merged;
}

/**
 * The delay before the attempt after `attempt` failed: `initialDelayMs × multiplier^(attempt − 1)`,
 * capped at `maxDelayMs`, minus up to `jitter` of itself at random.
 */
export function backoffDelay(
  attempt: number,
  options: ResolvedRetryOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** exponent);
  return Math.round(base * (1 - options.jitter * random()));
}

/** Headers that carry the retry state to the next delivery of a record. */
export function retryHeaders(ctx: MessageContext, now: number = Date.now()): Record<string, string> {
  return {
    [RETRY_HEADERS.attempt]: String(ctx.attempt + 1),
    [RETRY_HEADERS.firstFailureAt]: firstFailureOf(ctx.record.headers) ?? isoAt(now),
  };
}

/** An ISO-8601 UTC time as `Date.toISOString` writes it, and nothing longer. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/**
 * The first failure time a record carries in its retry header, when it is one: the header can come
 * from any producer, and the time is copied into retry and dead-letter metadata, so anything but a
 * plain ISO time counts as absent.
 */
export function firstFailureOf(headers: RecordHeaders): string | undefined {
  const value = headers[RETRY_HEADERS.firstFailureAt];
  return value !== undefined && ISO_TIME.test(value) && !Number.isNaN(Date.parse(value)) ? value : undefined;
}
