// The CLI on a real terminal: `script` gives it a pseudo-terminal, as a user's shell would, and
// records what it drew there.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { cliCommand, FIXTURES } from './process';
import { createScene, eventually, type Scene } from './scene';

/** Runs the CLI under `script` (util-linux) and returns the terminal's transcript and exit code. */
function onTerminal(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; screen: string }> {
  const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
  const command = [...cliCommand(), ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['--quiet', '--flush', '--return', '--command', command, '/dev/null'], {
      cwd: FIXTURES,
      // A terminal that takes colour; nothing forces or forbids it.
      env: { ...withoutColorSettings(process.env), TERM: 'xterm-256color', COLUMNS: '120', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      screen += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      screen += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen }));
  });
}

function withoutColorSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const { NO_COLOR: _no, FORCE_COLOR: _force, CI: _ci, ...rest } = env;
  return rest as Record<string, string>;
}

describe('tidings on a terminal', () => {
  let scene: Scene | undefined;

  afterEach(async () => {
    await scene?.close();
    scene = undefined;
  });

  it('draws a progress bar with counts, rate and ETA while it redrives, and colours its tables', async () => {
    scene = await createScene('terminal');
    await scene.publish(400);
    await scene.deadLetters(400);
    scene.broken.value = false;
    const at = ['-t', scene.topic, '-g', scene.failed];

    const listed = await onTerminal(['dlq', 'list', ...at, '--limit', '3'], scene.env);
    expect(listed.code).toBe(0);
    // The header in bold: a terminal gets colour without being asked.
    expect(listed.screen).toContain('\u001b[1mID');

    // 400 at 200 a second: two seconds of bar.
    const redrive = await onTerminal(['dlq', 'redrive', ...at, '--rate', '200'], scene.env);
    expect(redrive.code).toBe(0);
    expect(redrive.screen).toMatch(/redrive \[[\u2588\u2591]+\] \d+% \| \d+\/400 \| (\d+|-)\/s \| ETA/);
    // Drawn in place: the bar is redrawn on its line, several times, up to the end.
    expect(redrive.screen.match(/redrive \[/g)!.length).toBeGreaterThan(3);
    expect(redrive.screen).toContain('400/400');
    expect(redrive.screen).toContain('400 redriven');
    await eventually(() => new Set(scene!.handled).size === 400, 'the 400 redriven orders handled');
  });
});
