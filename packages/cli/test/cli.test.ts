// The CLI as its users run it: a process against the real Redis, read by people (tables, exit
// codes) and by scripts (--json on stdout, messages on stderr).
import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_URL, runCli, startCli, tailed } from './process';
import { createScene, eventually, type Scene } from './scene';

describe('tidings, run as a process against Redis', () => {
  let scene: Scene | undefined;

  afterEach(async () => {
    await scene?.close();
    scene = undefined;
  });

  it('lists and shows dead letters for people and for scripts, and says when one is not there', async () => {
    scene = await createScene('list');
    await scene.publish(30);
    await scene.deadLetters(30);
    const at = ['-t', scene.topic, '-g', scene.failed];

    const listed = await runCli(['dlq', 'list', ...at, '--json'], { env: scene.env });
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    const page = JSON.parse(listed.stdout) as {
      letters: {
        id: string;
        failure: { reason: string; attempts: number };
        envelope: { data: { orderId: string } };
      }[];
      cursor: string | null;
    };
    expect(page.letters).toHaveLength(30);
    expect(page.cursor).toBeNull();
    expect(page.letters[0]!.failure).toMatchObject({ attempts: 1 });
    expect(page.letters[0]!.failure.reason).toContain('payment service unavailable');
    expect(page.letters.map((l) => l.envelope.data.orderId).sort()).toEqual(
      Array.from({ length: 30 }, (_, i) => `o-${i}`).sort(),
    );

    const table = await runCli(['dlq', 'list', ...at, '--limit', '5'], { env: scene.env });
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+TYPE\s+KEY\s+ATTEMPTS\s+LAST FAILURE\s+REASON$/);
    expect(table.stdout.trim().split('\n')).toHaveLength(6);
    expect(table.stderr).toMatch(/more follow: --after \S+/);

    const id = page.letters[3]!.id;
    const shown = await runCli(['dlq', 'show', ...at, id], { env: scene.env });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`dead letter ${id}`);
    expect(shown.stdout).toContain('payment service unavailable');
    expect(shown.stdout).toContain('event cli-test.order.placed v1');

    const missing = await runCli(['dlq', 'show', ...at, '1-0', '--json'], { env: scene.env });
    expect(missing.code).toBe(4);
    expect(JSON.parse(missing.stdout)).toMatchObject({
      error: { code: 'DEAD_LETTER_NOT_FOUND', exitCode: 4 },
    });
  });

  it('redrives to the failed group only: a dry run first, then every dead letter once', async () => {
    scene = await createScene('redrive');
    await scene.publish(50);
    await scene.deadLetters(50);
    const at = ['-t', scene.topic, '-g', scene.failed];
    scene.broken.value = false;
    const otherBefore = scene.otherHandled.length;

    const dry = await runCli(['dlq', 'redrive', ...at, '--reason', '/unavailable$/', '--dry-run', '--json'], {
      env: scene.env,
    });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ dryRun: true, selected: 50 });
    expect(scene.handled).toEqual([]);

    const redrive = await runCli(['dlq', 'redrive', ...at], { env: scene.env });
    expect(redrive.code).toBe(0);
    expect(redrive.stdout).toContain('50 redriven, 0 missing, 0 refused');
    // Piped, the progress is plain lines on stderr, never the bar's control characters.
    expect(redrive.stderr).toMatch(/redrive: 50\/50 \(100%\)/);
    expect(redrive.stderr).not.toContain('\u001b[');
    await eventually(() => new Set(scene!.handled).size === 50, 'the 50 redriven orders handled');
    expect(scene.otherHandled.length).toBe(otherBefore);
    const left = await runCli(['dlq', 'list', ...at, '--json'], { env: scene.env });
    expect(JSON.parse(left.stdout)).toEqual({ letters: [], cursor: null });
  });

  it('stops a redrive on Ctrl-C with exit code 130, and a second run redrives the rest', async () => {
    scene = await createScene('interrupt');
    await scene.publish(300);
    await scene.deadLetters(300);
    scene.broken.value = false;
    const args = ['dlq', 'redrive', '-t', scene.topic, '-g', scene.failed, '--rate', '100', '--json'];
    const first = startCli(args, { env: scene.env });
    await eventually(() => scene!.handled.length >= 50, 'a sixth of the redrive');
    first.child.kill('SIGINT');
    const stopped = await first.exited;
    expect(stopped.code).toBe(130);
    const report = JSON.parse(stopped.stdout) as { redriven: number; aborted: boolean };
    expect(report.aborted).toBe(true);
    expect(report.redriven).toBeGreaterThan(0);
    expect(report.redriven).toBeLessThan(300);

    const second = await runCli(['dlq', 'redrive', '-t', scene.topic, '-g', scene.failed, '--json'], {
      env: scene.env,
    });
    expect(second.code).toBe(0);
    expect(report.redriven + (JSON.parse(second.stdout) as { redriven: number }).redriven).toBe(300);
    await eventually(() => new Set(scene!.handled).size === 300, 'all 300 orders handled');
  });

  it('purges only when confirmed, and counts what it deleted', async () => {
    scene = await createScene('purge');
    await scene.publish(20);
    await scene.deadLetters(20);
    const at = ['-t', scene.topic, '-g', scene.failed];
    const unconfirmed = await runCli(['dlq', 'purge', ...at], { env: scene.env });
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('confirm with --yes');
    const dry = await runCli(['dlq', 'purge', ...at, '--dry-run'], { env: scene.env });
    expect(dry.stdout).toContain('20 dead letter(s) selected (dry run: nothing deleted)');
    const purged = await runCli(['dlq', 'purge', ...at, '--yes', '--json'], { env: scene.env });
    expect(purged.code).toBe(0);
    expect(JSON.parse(purged.stdout)).toMatchObject({ selected: 20, deleted: 20 });
  });

  it('lists the groups of the config topics with their lag, and replays one group from a time', async () => {
    scene = await createScene('groups');
    scene.broken.value = false;
    await scene.publish(10, 'before');
    await eventually(() => scene!.handled.length === 10 && scene!.otherHandled.length === 10, '10 handled');
    await new Promise((resolve) => setTimeout(resolve, 5));
    const mark = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await scene.publish(10, 'after');
    await eventually(() => scene!.handled.length === 20, '20 handled');

    const groups = await runCli(['groups', '--json'], { env: scene.env });
    expect(groups.code).toBe(0);
    const listed = (JSON.parse(groups.stdout) as { groups: { group: string; lag: number; state: string }[] })
      .groups;
    expect(listed.map((g) => g.group).sort()).toEqual([scene.other, scene.failed].sort());
    expect(listed.every((g) => g.state === 'active')).toBe(true);

    const otherBefore = scene.otherHandled.length;
    const replay = await runCli(
      ['replay', '-t', scene.topic, '-g', scene.failed, '--from-time', mark.toISOString()],
      {
        env: scene.env,
      },
    );
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    await eventually(() => scene!.handled.length === 30, 'the 10 later orders again');
    expect(scene.handled.slice(20).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `after-${i}`).sort());
    expect(scene.otherHandled.length).toBe(otherBefore);

    const unknown = await runCli(
      ['replay', '-t', scene.topic, '-g', 'nobody', '--from-time', '1h', '--dry-run'],
      {
        env: scene.env,
      },
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('group "nobody" does not consume');
  });

  it('tails a topic as JSON lines, decoded, and publishes an event validated against its contract', async () => {
    scene = await createScene('tail');
    scene.broken.value = false;
    const tail = startCli(['tail', scene.topic, '--json', '--count', '3'], { env: scene.env });
    await tail.until((cli) => cli.stderr.includes('following'));
    await scene.publish(2, 'live');
    const published = await runCli(['publish', 'cli-test.order.placed', '--data', '-', '--json'], {
      env: scene.env,
      input: JSON.stringify({ orderId: 'from-cli', total: 12.5 }),
    });
    expect(published.code).toBe(0);
    expect(JSON.parse(published.stdout)).toMatchObject({
      type: 'cli-test.order.placed',
      topic: scene.topic,
      key: 'from-cli',
    });
    const lines = tailed(await tail.exited);
    expect(lines.map((l) => l.envelope.data.orderId).sort()).toEqual(['from-cli', 'live-0', 'live-1']);
    expect(lines.every((l) => l.envelope.type === 'cli-test.order.placed')).toBe(true);
    await eventually(() => scene!.handled.includes('from-cli'), 'the published order handled');
    // The tail's own group is gone: the application's groups are all that is left.
    const groups = JSON.parse((await runCli(['groups', '--json'], { env: scene.env })).stdout) as {
      groups: { group: string }[];
    };
    expect(groups.groups.map((g) => g.group).sort()).toEqual([scene.other, scene.failed].sort());

    const invalid = await runCli(['publish', 'cli-test.order.placed', '--data', '-'], {
      env: scene.env,
      input: JSON.stringify({ orderId: 'bad', total: -1 }),
    });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/error: .*total/);
    const unknown = await runCli(['publish', 'no.such.type', '--data', '-'], { env: scene.env, input: '{}' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('is not in the config (it has cli-test.order.placed)');
  });

  it('has help with examples, a version, usage errors with exit code 2, and never prints a credential', async () => {
    const help = await runCli(['dlq', 'redrive', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--dry-run');
    expect((await runCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const bad = await runCli(['dlq', 'list', '--topic', 't']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("required option '-g, --group <group>' not specified");
    const noConfig = await runCli(['groups', '-t', 't'], { cwd: '/' });
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toContain('no tidings.config.ts');

    const secret = 's3cr3t-Pa55';
    const url = REDIS_URL.replace('redis://', `redis://operator:${secret}@`);
    const config = await runCli(['config', '--broker', url, '--json']);
    expect(config.code).toBe(0);
    expect(config.stdout).not.toContain(secret);
    expect(JSON.parse(config.stdout)).toMatchObject({ adapter: 'redis', operations: { deadLetters: true } });
    // A refused login: the error names the broker, never the password.
    const refused = await runCli(['groups', '-t', 't', '--broker', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr + refused.stdout).not.toContain(secret);
    expect((await runCli(['groups', '--broker', 'mqtt://x'])).stderr).toContain(
      'no adapter for mqtt:// URLs',
    );
  });
});
