import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Collector } from '@tidings/conformance';
import { afterAll, describe, expect, it } from 'vitest';
import { BROKERS, subscribeSpec, testAdmin, testRecords, useKafka } from './helpers';

const kafka = useKafka('k');
const script = fileURLToPath(new URL('./fixtures/consumer-process.ts', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));
let child: ChildProcess | undefined;

afterAll(() => {
  child?.kill('SIGKILL');
});

/** `topic/2@17` → partition 2, offset 17. */
function parsePosition(position: string): { partition: number; offset: number } {
  const match = /\/(\d+)@(\d+)$/.exec(position);
  if (match === null) throw new Error(`unexpected position ${position}`);
  return { partition: Number(match[1]), offset: Number(match[2]) };
}

describe('kafka consumer crash', () => {
  it('resumes from the last committed offset after SIGKILL mid-batch, losing nothing', async () => {
    const { topic, group } = kafka.names('crash');
    const publisher = await kafka.adapter();
    const total = 400;
    await publisher.publish(testRecords(topic, 'c', total, 16));

    // The consumer process handles records slowly and reports each one it finished.
    const handledByChild = new Set<string>();
    let reportHandled: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => {
      reportHandled = () => {
        if (handledByChild.size >= 120) resolve();
      };
    });
    child = spawn(process.execPath, ['--conditions=@tidings/source', '--import', 'tsx', script], {
      cwd: packageDir,
      env: {
        ...process.env,
        KAFKA_BROKER: BROKERS[0],
        KAFKA_TOPIC: topic,
        KAFKA_GROUP: group,
        HANDLE_MS: '25',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child!.once('exit', (_code, signal) => resolve(signal)),
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [word, , body] = line.split(' ');
      if (word === 'handled' && body !== undefined) {
        handledByChild.add(body);
        reportHandled();
      }
    });
    await Promise.race([
      enough,
      exited.then((signal) => {
        throw new Error(`the consumer process exited early (${signal})`);
      }),
    ]);

    // Killed in the middle of its work: handlers in flight, settled records not yet committed.
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(handledByChild.size).toBeLessThan(total);
    const admin = await testAdmin();
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const committed = new Map(offsets!.partitions.map((p) => [p.partition, Number(p.offset)]));

    // A new member of the group picks up where the committed offsets say.
    const collector = new Collector();
    const successor = await kafka.adapter();
    await successor.subscribe(subscribeSpec(group, topic), collector.handler('successor'));
    const missing = (): string[] =>
      Array.from({ length: total }, (_, i) => `c-${i}`).filter(
        (body) => !handledByChild.has(body) && !collector.distinctBodies().has(body),
      );
    await collector.until(
      () => missing().length === 0,
      60_000,
      () => `${missing().length} records neither handled before the kill nor after it`,
    );

    const firstOffsets = new Map<number, number>();
    for (const { record } of collector.deliveries) {
      const { partition, offset } = parsePosition(record.position);
      firstOffsets.set(partition, Math.min(firstOffsets.get(partition) ?? offset, offset));
    }
    for (const [partition, first] of firstOffsets) {
      // Exactly the committed offset: nothing before it came back, nothing from it on was skipped.
      expect(first, `partition ${partition}`).toBe(committed.get(partition) ?? 0);
    }
    expect(missing()).toEqual([]);
  });
});
