import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Collector, ObserverLog, quietPeriod } from '@tidings/conformance';
import { createOperator, defaultDeadLetterTopic } from '@tidings/core';
import type { IncomingRecord, Settlement } from '@tidings/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { BROKERS, subscribeSpec, useKafka } from './helpers';

// 1,000 here; `npm run test:redrive-big` runs the same with 10,000 (TIDINGS_REDRIVE_LETTERS).
const LETTERS = Number(process.env.TIDINGS_REDRIVE_LETTERS ?? 1_000);
// About four seconds of redrive at this rate, so the kill falls in its middle.
const RATE = Math.max(250, Math.ceil(LETTERS / 4));

const kafka = useKafka('rd');
const script = fileURLToPath(new URL('./fixtures/redrive-process.ts', import.meta.url));
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** The redrive process, with a wait for each line it prints. */
function redriveProcess(topic: string, group: string) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=@tidings/source', '--import', 'tsx', script],
    {
      cwd: packageDir,
      env: {
        ...process.env,
        KAFKA_BROKER: BROKERS[0],
        KAFKA_TOPIC: topic,
        KAFKA_GROUP: group,
        RATE: String(RATE),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines: string[] = [];
  const waiters: { word: string; resolve: () => void }[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const waiter of waiters.splice(0)) {
      if (line.startsWith(waiter.word)) waiter.resolve();
      else waiters.push(waiter);
    }
  });
  return {
    child,
    exited,
    lines,
    /** Resolves once a line starting with `word` is printed; rejects when the process exits first. */
    line(word: string): Promise<void> {
      if (lines.some((line) => line.startsWith(word))) return Promise.resolve();
      return Promise.race([
        new Promise<void>((resolve) => waiters.push({ word, resolve })),
        exited.then((signal) => {
          throw new Error(
            `the redrive process exited (${signal}) before printing ${word}: ${lines.join(' | ')}`,
          );
        }),
      ]);
    },
  };
}

describe('a redrive killed with SIGKILL half-way and run again', () => {
  let running: ChildProcess | undefined;
  afterEach(() => {
    running?.kill('SIGKILL');
  });

  // Unordered groups are redriven through their retry topic; ordered ones (the bus's default)
  // through the original topic, addressed to the failed group, which the other group skips.
  it.each([
    ['unordered', 'none'],
    ['ordered', 'key'],
  ] as const)(
    `ends with each of ${LETTERS} dead letters of an %s group handled by it, none by the other, the store empty`,
    async (_label, ordering) => {
      const { topic, group: failed } = kafka.names(`redrive-${ordering}`);
      const other = `${failed}-other`;
      const adapter = await kafka.adapter();
      const failing = { value: true };
      // The idempotent handler's effects: one per event id, however often it is delivered.
      const effects = new Set<string>();
      let deliveries = 0;
      const failedSeen = new Collector();
      const otherSeen = new Collector();
      const observer = new ObserverLog();
      const deadLetterTopic = defaultDeadLetterTopic(topic, failed);
      const spec = { ordering, concurrency: 32 } as const;
      await adapter.subscribe(subscribeSpec(other, topic, spec), otherSeen.handler('other'));
      await adapter.subscribe(
        subscribeSpec(failed, topic, spec),
        failedSeen.handler('failed', (record: IncomingRecord): Settlement => {
          if (failing.value) {
            return {
              type: 'deadLetter',
              topic: deadLetterTopic,
              reason: 'Error: downstream was broken',
              headers: {
                'tidings-dlq-reason': 'Error: downstream was broken',
                'tidings-dlq-original-position': record.position,
              },
            };
          }
          deliveries++;
          effects.add(record.headers.ce_id!);
          return { type: 'ack' };
        }),
        observer,
      );
      for (let i = 0; i < LETTERS; i += 500) {
        await adapter.publish(
          Array.from({ length: Math.min(500, LETTERS - i) }, (_, j) => ({
            topic,
            key: `k-${(i + j) % 97}`,
            headers: { ce_id: `event-${i + j}` },
            body: Buffer.from(`body-${i + j}`),
          })),
        );
      }
      await observer.until((log) => log.landed.length >= LETTERS, 120_000);
      await otherSeen.untilDistinct(LETTERS, 120_000);
      const otherBefore = otherSeen.deliveries.length;
      failing.value = false;

      const started = performance.now();
      const first = redriveProcess(topic, failed);
      running = first.child;
      await first.line('READY');
      await failedSeen.until(
        () => effects.size >= LETTERS / 2,
        120_000,
        () => `${effects.size} redriven`,
      );
      first.child.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      const atKill = effects.size;
      const operator = createOperator({ adapter });
      let left = 0;
      for await (const _ of operator.browse({ topic, group: failed }, { pageSize: 1_000 })) left++;
      expect(left, 'the kill fell before the end').toBeGreaterThan(0);

      const second = redriveProcess(topic, failed);
      running = second.child;
      await second.line('DONE');
      await failedSeen.until(
        () => effects.size >= LETTERS,
        120_000,
        () => `${effects.size} of ${LETTERS} handled`,
      );
      const tookMs = performance.now() - started;
      const report = second.lines.find((line) => line.startsWith('REDRIVEN')) ?? '';
      console.log(
        `redrive of ${LETTERS} ${ordering === 'key' ? 'ordered' : 'unordered'} (killed at ${atKill} handled, ${left} left stored; second run: ${report}): ${Math.round(tookMs)} ms, ${deliveries} deliveries, ${deliveries - LETTERS} duplicate`,
      );
      let stored = 0;
      for await (const _ of operator.browse({ topic, group: failed }, { pageSize: 1_000 })) stored++;
      expect(stored).toBe(0);
      expect(effects.size).toBe(LETTERS);
      // A redriven copy and its letter's removal are one transaction: the batch the kill interrupted
      // is aborted (the next redrive's producer fences it), so none is delivered twice.
      expect(deliveries).toBe(LETTERS);
      await quietPeriod(500);
      expect(otherSeen.deliveries.length).toBe(otherBefore);
    },
    300_000,
  );
});
