import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

describe('the in-memory broker in a real process', () => {
  it('keeps the process alive while a live subscription waits for a delayed retry', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@tidings/source',
        join(here, 'fixtures', 'retry-keeps-process-alive.ts'),
      ],
      { cwd: join(here, '..'), timeout: 30_000 },
    );
    expect(stdout.trim()).toBe('handled on attempt 2');
  });
});
