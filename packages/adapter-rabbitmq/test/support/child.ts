import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** A fixture running in a Node process of its own, which a test can wait on and kill. */
export interface FixtureProcess {
  readonly process: ChildProcess;
  /** Resolves once the fixture printed `line`; rejects when it exits first, or after `timeoutMs`. */
  printed(line: string, timeoutMs?: number): Promise<void>;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
}

/**
 * Starts `test/fixtures/<name>` on the TypeScript sources (tsx and the `@tidings/source` export
 * condition, as vitest resolves them), so that a test can SIGKILL an operation half-way.
 */
export function startFixture(name: string, args: readonly string[]): FixtureProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@tidings/source', join(fixtures, name), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines = new Set<string>();
  const listeners = new Set<(line: string) => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.add(line);
    for (const listener of listeners) listener(line);
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const printed = (line: string, timeoutMs = 30_000): Promise<void> => {
    if (lines.has(line)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stop = (error?: Error): void => {
        clearTimeout(timer);
        listeners.delete(listener);
        if (error === undefined) resolve();
        else reject(error);
      };
      const listener = (seen: string): void => {
        if (seen === line) stop();
      };
      const timer = setTimeout(
        () => stop(new Error(`${name} printed no "${line}" within ${timeoutMs} ms; stderr: ${stderr}`)),
        timeoutMs,
      );
      listeners.add(listener);
      void exited.then(() => {
        if (!lines.has(line)) stop(new Error(`${name} exited without printing "${line}"; stderr: ${stderr}`));
      });
    });
  };
  return { process: child, printed, exited };
}
