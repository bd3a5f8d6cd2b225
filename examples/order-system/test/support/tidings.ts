// The example's `npm run tidings -- <args>`, as an operator runs it, without npm's banner: the CLI
// from its sources with tsx, in the example's folder (where its tidings.config.ts is).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const EXAMPLE = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../../../packages/cli/src/bin.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Runs the CLI to its end; `out` is stdout and stderr together. */
export function tidings(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, '--conditions=@tidings/source', CLI, ...args], {
      cwd: EXAMPLE,
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}
