import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** A fixture running in a Node process of its own, which a test may kill at any moment. */
export interface FixtureProcess {
  readonly process: ChildProcess;
  /** Resolves once the fixture prints `text` on a line; rejects when it exits first or after `timeoutMs`. */
  printed(text: string, timeoutMs?: number): Promise<void>;
  /** Kills it with SIGKILL (no cleanup of any kind runs) and waits until it is gone. */
  kill(): Promise<void>;
}

/** Starts `test/fixtures/<name>` on the sources (tsx, the `@tidings/source` condition). */
export function startFixture(name: string, args: readonly string[]): FixtureProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@tidings/source', join(fixtures, name), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines = new Set<string>();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const out = createInterface({ input: child.stdout! });
  out.on('line', (line) => lines.add(line));
  const exited = once(child, 'exit').then(() => undefined);
  return {
    process: child,
    printed(text, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        const onLine = (line: string): void => {
          if (line === text) finish();
        };
        const onExit = (): void => finish(new Error('it exited'));
        function finish(error?: Error): void {
          clearTimeout(timer);
          out.off('line', onLine);
          child.off('exit', onExit);
          if (error === undefined) resolve();
          else reject(new Error(`${name} did not print "${text}": ${error.message}; stderr: ${stderr}`));
        }
        if (lines.has(text)) return finish();
        if (child.exitCode !== null) return onExit();
        out.on('line', onLine);
        child.once('exit', onExit);
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
