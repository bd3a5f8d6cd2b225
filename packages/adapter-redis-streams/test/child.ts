import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** A child process whose stdout lines a test can wait for. */
export interface Child {
  readonly process: ChildProcess;
  /** Resolves when a line equal to `line` is printed; rejects if the child exits first or after `timeoutMs`. */
  line(line: string, timeoutMs?: number): Promise<void>;
  /** Resolves when the child has exited. */
  readonly exited: Promise<void>;
}

/** Runs a TypeScript fixture of `test/fixtures` in a Node process of its own, on the sources. */
export function runFixture(name: string, args: readonly string[]): Child {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@tidings/source', join(here, 'fixtures', name), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const seen: string[] = [];
  let stderr = '';
  let waiters: { line: string; resolve: () => void }[] = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      seen.push(line);
      waiters = waiters.filter((waiter) => {
        if (waiter.line !== line) return true;
        waiter.resolve();
        return false;
      });
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    exited,
    line(line, timeoutMs = 20_000) {
      if (seen.includes(line)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`${name} did not print "${line}" within ${timeoutMs} ms; stderr: ${stderr}`)),
          timeoutMs,
        );
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`${name} exited before printing "${line}"; stderr: ${stderr}`));
        });
        waiters.push({
          line,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}
