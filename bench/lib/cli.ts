// Lets a benchmark file run on its own: `npx tsx bench/<file>.ts [--messages N] [--rounds N] [--quick]`.
import { pathToFileURL } from 'node:url';
import type { DriverOptions } from './driver';
import type { BenchResult } from './result';

/** The value after `--name` on the command line. */
export function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

function positive(name: string, fallback: number): number {
  const text = argument(name);
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

/**
 * When the module at `moduleUrl` is the script node was started with, runs `run` with the options
 * of the command line and prints its rows.
 */
export function runWhenMain(
  moduleUrl: string,
  defaultMessages: number,
  run: (options: DriverOptions) => Promise<BenchResult[]>,
): void {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  const started = performance.now();
  const quick = process.argv.includes('--quick');
  const rounds = argument('rounds');
  run({
    messages: positive('messages', defaultMessages),
    quick,
    ...(rounds === undefined ? {} : { rounds: positive('rounds', 1) }),
  }).then(
    (results) => {
      console.table(results);
      console.log(JSON.stringify(results, null, 2));
      console.log(`took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
