import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** How a fixture process ended: its exit code, or the signal that ended it. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Settings of {@link startFixtureProcess}. */
export interface FixtureProcessOptions {
  /** Arguments after the script's path. */
  readonly args?: readonly string[];
  /** Variables set over the test process's own environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory; the test process's by default. */
  readonly cwd?: string;
  /**
   * Node's own flags. By default `--import tsx --conditions=@tidings/source`: the script runs on
   * the TypeScript sources, resolved as vitest resolves them (`tsx` must be installed where the
   * script is; the condition is harmless outside Tidings' own repository).
   */
  readonly execArgv?: readonly string[];
}

/** A script running in a Node process of its own, which a test can wait on and kill at any moment. */
export interface FixtureProcess {
  readonly process: ChildProcess;
  /** Every line the script printed on stdout so far. */
  readonly lines: readonly string[];
  /**
   * Resolves once the script printed a line equal to `text` (at once if it already did); rejects,
   * with its stderr, when it ends without printing it or after `timeoutMs`.
   */
  line(text: string, timeoutMs?: number): Promise<void>;
  /** Kills it with SIGKILL (no cleanup of any kind runs in it) and resolves once it is gone. */
  kill(): Promise<ProcessExit>;
  /** Resolves once the process has ended and its output is read. */
  readonly exited: Promise<ProcessExit>;
}

const SOURCE_EXEC_ARGV = ['--import', 'tsx', '--conditions=@tidings/source'];
// Enough of stderr to show why a script failed, without holding a chatty one's whole output.
const STDERR_KEPT = 16_384;

/**
 * Starts a script (a test's fixture) in a Node process of its own, for a test that must crash an
 * operation half-way: the script prints a line at each step it reaches, the test waits for the
 * line, then kills the process with SIGKILL.
 *
 * @example
 * ```ts
 * const script = fileURLToPath(new URL('./fixtures/redrive.ts', import.meta.url));
 * const child = startFixtureProcess(script, { args: [brokerUrl, topic, group] });
 * await child.line('READY');
 * const exit = await child.kill();
 * expect(exit.signal).toBe('SIGKILL');
 * ```
 */
export function startFixtureProcess(script: string, options: FixtureProcessOptions = {}): FixtureProcess {
  const child = spawn(
    process.execPath,
    [...(options.execArgv ?? SOURCE_EXEC_ARGV), script, ...(options.args ?? [])],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
    },
  );
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const listener of listeners) listener(line);
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEPT);
  });
  // 'close', not 'exit': the last lines may still be on their way when the process exits.
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const name = script.split(/[\\/]/).pop() ?? script;

  const line = (text: string, timeoutMs = 30_000): Promise<void> => {
    if (lines.includes(text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const finish = (failure?: string): void => {
        clearTimeout(timer);
        listeners.delete(listener);
        if (failure === undefined) resolve();
        else reject(new Error(`${name} ${failure} "${text}"; stderr: ${stderr.trim() || '(empty)'}`));
      };
      const listener = (seen: string): void => {
        if (seen === text) finish();
      };
      const timer = setTimeout(() => finish(`printed within ${timeoutMs} ms no`), timeoutMs);
      listeners.add(listener);
      void exited.then((exit) => {
        if (!lines.includes(text)) finish(`ended (${exit.signal ?? `code ${exit.code}`}) without printing`);
      });
    });
  };

  return {
    process: child,
    lines,
    line,
    exited,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}
