import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type FixtureProcess, startFixtureProcess } from '../src/index';

const printer = fileURLToPath(new URL('./fixtures/printer.ts', import.meta.url));

describe('startFixtureProcess', () => {
  let child: FixtureProcess | undefined;
  afterEach(async () => {
    await child?.kill();
  });

  it('waits for a line, passes arguments and environment, and kills with SIGKILL', async () => {
    child = startFixtureProcess(printer, { args: ['stay'], env: { GREETING: 'hello' } });
    await child.line('GREETING hello', 20_000);
    // A line printed before the wait began counts too.
    await child.line('READY', 1_000);
    expect(child.lines).toEqual(['READY', 'GREETING hello']);
    const exit = await child.kill();
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await child.exited).toBe(exit);
  });

  it('rejects with the stderr when the process ends without printing the line', async () => {
    child = startFixtureProcess(printer, { args: ['fail'] });
    await expect(child.line('DONE', 20_000)).rejects.toThrow(
      /printer\.ts ended \(code 3\) without printing "DONE"; stderr: the downstream was broken/,
    );
    expect((await child.exited).code).toBe(3);
  });

  it('rejects after the timeout when the line does not come', async () => {
    child = startFixtureProcess(printer, { args: ['stay'] });
    await child.line('READY', 20_000);
    await expect(child.line('DONE', 200)).rejects.toThrow(/printed within 200 ms no "DONE"/);
  });
});
