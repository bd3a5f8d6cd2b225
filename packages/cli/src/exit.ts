import { isTidingsError } from '@tidings/core';

/**
 * The exit codes of `tidings`, documented in the package README.
 *
 * @example
 * ```ts
 * import { EXIT } from '@tidings/cli';
 * if (result.status === EXIT.partial) console.warn('some dead letters were refused');
 * ```
 */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The broker failed or refused, or something unexpected happened. */
  failure: 1,
  /** Bad arguments, a bad or missing config, an unknown event type, invalid event data. */
  usage: 2,
  /** The adapter cannot do this operation on its broker (the message says why). */
  unsupported: 3,
  /** The dead letter or group named does not exist. */
  notFound: 4,
  /** Done, but the broker refused some items (listed in the output). */
  partial: 5,
  /** Stopped by Ctrl-C (SIGINT) or SIGTERM; what was done stays done. */
  interrupted: 130,
} as const;

/** One of {@link EXIT}'s values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code for an error a command ends with. */
export function exitCodeOf(error: unknown): ExitCode {
  if (!isTidingsError(error)) return EXIT.failure;
  switch (error.code) {
    case 'CONFIG':
    case 'VALIDATION':
    case 'UNKNOWN_EVENT_TYPE':
      return EXIT.usage;
    case 'CAPABILITY_UNAVAILABLE':
      return EXIT.unsupported;
    case 'DEAD_LETTER_NOT_FOUND':
      return EXIT.notFound;
    default:
      return EXIT.failure;
  }
}

/** A command line error of the CLI's own (a bad argument), exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
