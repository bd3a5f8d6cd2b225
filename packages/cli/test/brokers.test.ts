// The CLI on each broker the project has an adapter for, through a broker URL (TIDINGS_BROKER):
// tail shows events as they are published, groups lists the groups with their lag, and a redrive
// reaches the failed group only.
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, tailed } from './process';
import { BROKERS, createScene, eventually, type Scene } from './scene';

for (const [key, broker] of Object.entries(BROKERS).filter(([name]) => name !== 'redis')) {
  describe(`tidings on ${broker.name}`, () => {
    let scene: Scene | undefined;

    afterEach(async () => {
      await scene?.close();
      scene = undefined;
    });

    it('tails events as they are published, and removes its own group at the end', async () => {
      scene = await createScene(`tail-${key}`, broker);
      scene.broken.value = false;
      const tail = startCli(['tail', scene.topic, '--json', '--count', '3'], { env: scene.env });
      await tail.until((cli) => cli.stderr.includes('following'), 60_000);
      await scene.publish(3, 'live');
      const lines = tailed(await tail.exited);
      expect(lines.map((l) => l.envelope.data.orderId).sort()).toEqual(['live-0', 'live-1', 'live-2']);
      const groups = await runCli(['groups', '-t', scene.topic, '--json'], { env: scene.env });
      expect(groups.code).toBe(0);
      const names = (JSON.parse(groups.stdout) as { groups: { group: string }[] }).groups.map((g) => g.group);
      expect(names.sort()).toEqual([scene.other, scene.failed].sort());
    });

    it('redrives dead letters to the failed group only', async () => {
      scene = await createScene(`redrive-${key}`, broker);
      await scene.publish(10);
      await scene.deadLetters(10);
      scene.broken.value = false;
      const otherBefore = scene.otherHandled.length;
      const at = ['-t', scene.topic, '-g', scene.failed];
      const listed = JSON.parse(
        (await runCli(['dlq', 'list', ...at, '--json'], { env: scene.env })).stdout,
      ) as {
        letters: unknown[];
      };
      expect(listed.letters).toHaveLength(10);
      const redrive = await runCli(['dlq', 'redrive', ...at, '--json'], { env: scene.env });
      expect(redrive.stderr).toBe('');
      expect(JSON.parse(redrive.stdout)).toMatchObject({ selected: 10, redriven: 10, refused: [] });
      expect(redrive.code).toBe(0);
      await eventually(() => new Set(scene!.handled).size === 10, 'the 10 redriven orders handled');
      expect(scene.otherHandled.length).toBe(otherBefore);
    });
  });
}
