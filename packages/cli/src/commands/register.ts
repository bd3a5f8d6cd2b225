import type { Command } from 'commander';
import type { ExitCode } from '../exit';
import type { CommandContext } from '../run';

/** Runs a command's body with the global options of `command` (see `runCommand`). */
export type RunAction = (
  command: Command,
  body: (context: CommandContext) => Promise<ExitCode>,
) => Promise<void>;

/** Adds one group of commands to the program. */
export type Register = (program: Command, run: RunAction) => void;
