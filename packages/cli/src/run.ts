import { isTidingsError } from '@tidings/core';
import { redactUrls } from '@tidings/core/adapter';
import { EXIT, type ExitCode, exitCodeOf, UsageError } from './exit';
import { colorsFor, type Io, json, note } from './output';
import { type GlobalOptions, Session } from './session';

/** What a command's body gets: its session, a signal that Ctrl-C aborts, and the output. */
export interface CommandContext {
  readonly session: Session;
  readonly signal: AbortSignal;
  readonly io: Io;
  readonly json: boolean;
}

/** Where a command's exit code is left for `main` to return. */
export interface Outcome {
  code: ExitCode;
}

/**
 * Runs one command: opens the session, aborts the signal on SIGINT or SIGTERM (a second one
 * exits at once), maps an error to its exit code and a message on stderr (or a JSON error on
 * stdout with `--json`), and closes the session whatever happens.
 */
export async function runCommand(
  io: Io,
  options: GlobalOptions,
  outcome: Outcome,
  body: (context: CommandContext) => Promise<ExitCode>,
): Promise<void> {
  const stop = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals > 1) process.exit(EXIT.interrupted);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let session: Session | undefined;
  try {
    session = await Session.open(io, options);
    outcome.code = await body({ session, signal: stop.signal, io, json: options.json === true });
  } catch (error) {
    outcome.code = report(io, options, error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    try {
      await session?.close();
    } catch (error) {
      // The work is done; a close that fails is worth a line, not a failed command.
      note(io, `warning: closing the adapter failed: ${redactUrls(messageOf(error))}`);
    }
  }
}

function report(io: Io, options: GlobalOptions, error: unknown): ExitCode {
  const code = error instanceof UsageError ? EXIT.usage : exitCodeOf(error);
  const message = redactUrls(messageOf(error));
  if (options.json === true) {
    const name = error instanceof Error ? error.name : 'Error';
    const tidingsCode = isTidingsError(error) ? error.code : undefined;
    json(io, { error: { name, code: tidingsCode, message, exitCode: code } });
  } else {
    const c = colorsFor(io.stderr, io.env);
    note(io, `${c.red('error')}: ${message}`);
  }
  return code;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
