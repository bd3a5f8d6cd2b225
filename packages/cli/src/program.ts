import { Command, CommanderError } from 'commander';
import { BROKER_SCHEMES } from './broker-url';
import { registerAsyncApi } from './commands/asyncapi';
import { registerConfig } from './commands/config';
import { registerConsole } from './commands/console';
import { registerDlq } from './commands/dlq';
import { registerGroups } from './commands/groups';
import type { RunAction } from './commands/register';
import { registerTail } from './commands/tail';
import { CONFIG_FILES } from './config';
import { EXIT } from './exit';
import type { Io } from './output';
import { type Outcome, runCommand } from './run';
import type { GlobalOptions } from './session';

const VERSION = '0.1.0';

const HELP = `
Configuration:
  The CLI reads ${CONFIG_FILES[0]} (or .mts, .js, .mjs, .cjs) in the working directory: the
  adapter factory and the contracts (see defineConfig). Commands that need no contracts can take
  a broker URL instead: --broker or TIDINGS_BROKER (${BROKER_SCHEMES.join(', ')}).

Exit codes:
  0 done, 1 broker or unexpected failure, 2 bad usage or config, 3 not possible on this broker,
  4 not found, 5 done but some items refused, 130 interrupted (what was done stays done)

Examples:
  $ tidings groups
  $ tidings dlq list -t order.placed -g billing
  $ tidings dlq redrive -t order.placed -g billing --rate 200
  $ tidings replay -t order.placed -g search-index --from-time 24h
  $ tidings tail order.placed --json
  $ tidings publish order.placed --data order.json
  $ tidings asyncapi --out asyncapi.yaml
  $ tidings console --actions`;

/**
 * Runs the `tidings` command line with `argv` (without `node` and the script) and resolves with
 * its exit code. It writes only to `io`, so tests and other programs can run it in process.
 *
 * @example
 * ```ts
 * import { main } from '@tidings/cli';
 *
 * process.exitCode = await main(['groups', '--json'], {
 *   stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd(),
 * });
 * ```
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const outcome: Outcome = { code: EXIT.ok };
  const program = new Command('tidings')
    .description('Operate a Tidings application: consumer groups, dead letters, replay, tail and publish.')
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', `the config file (default: ./${CONFIG_FILES[0]} and its kin)`)
    .option('-b, --broker <url>', "a broker URL instead of the config's adapter (also TIDINGS_BROKER)")
    .option('--json', 'machine-readable output on stdout (errors too)')
    .addHelpText('after', HELP)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  const run: RunAction = (command, body) =>
    runCommand(io, command.optsWithGlobals<GlobalOptions>(), outcome, body);
  for (const register of [
    registerGroups,
    registerDlq,
    registerTail,
    registerAsyncApi,
    registerConsole,
    registerConfig,
  ])
    register(program, run);
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw error;
  }
  return outcome.code;
}
