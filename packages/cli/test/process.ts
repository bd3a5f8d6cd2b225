// Runs `tidings` as a user does: a process of its own (its TypeScript sources through tsx, as the
// workspace runs them without a build), with its own stdout, stderr and exit code.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
export const REDIS_URL = process.env.TIDINGS_REDIS_URL ?? 'redis://127.0.0.1:6379';

// tsx by its path: `--import tsx` would look for it from the working directory, which a test moves.
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The command line that starts the CLI: node with tsx, then the bin. */
export function cliCommand(): string[] {
  return [process.execPath, '--import', TSX, '--conditions=@tidings/source', BIN];
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** A running CLI, with its output so far and waits on it. */
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code) => resolve({ code, stdout: this.stdout, stderr: this.stderr }));
    });
  }

  /** Resolves once the output matches; rejects with what was printed after `timeoutMs`. */
  async until(test: (cli: CliProcess) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test(this)) {
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `the CLI did not print what was expected:\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

export function startCli(args: readonly string[], options: CliOptions = {}): CliProcess {
  const [command, ...prefix] = cliCommand();
  const child = spawn(command!, [...prefix, ...args], {
    cwd: options.cwd ?? FIXTURES,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env },
    stdio: 'pipe',
  });
  if (options.input !== undefined) child.stdin.end(options.input);
  else child.stdin.end();
  return new CliProcess(child);
}

/** Runs the CLI to its end (killed after `timeoutMs`). */
export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const cli = startCli(args, options);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  try {
    return await cli.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** What `tidings tail --json` printed: one event per line. */
export interface TailedEvent {
  readonly envelope: { readonly type: string; readonly data: { readonly orderId: string } };
}

/** The events a `tail --json` printed, once it ended with exit code 0. */
export function tailed(result: CliResult): TailedEvent[] {
  if (result.code !== 0) throw new Error(`tail ended with ${result.code}: ${result.stderr}`);
  return result.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TailedEvent);
}
