import { Collector, ObserverLog, quietPeriod } from '@tidings/conformance';
import { createOperator, defaultDeadLetterTopic } from '@tidings/core';
import type { IncomingRecord, Settlement } from '@tidings/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '../src';
import { type Child, runFixture } from './child';
import { deleteKeysMatching, REDIS_URL, uniqueName } from './redis';

// 1,000 here; `npm run test:redrive-big` runs the same with 10,000 (TIDINGS_REDRIVE_LETTERS).
const LETTERS = Number(process.env.TIDINGS_REDRIVE_LETTERS ?? 1_000);
// The whole redrive takes about four seconds at this rate, so the kill falls in its middle.
const RATE = Math.max(250, Math.ceil(LETTERS / 4));

describe('a redrive killed with SIGKILL half-way and run again', () => {
  let child: Child | undefined;
  let adapter: RedisStreamsAdapter | undefined;
  const made: string[] = [];

  afterEach(async () => {
    child?.process.kill('SIGKILL');
    await adapter?.close({ signal: AbortSignal.timeout(2_000) });
    for (const name of made.splice(0)) await deleteKeysMatching(`*${name}*`);
  });

  it(`ends with each of ${LETTERS} dead letters handled once by the failed group, none by the other, the store empty`, async () => {
    const topic = uniqueName('redrive-crash');
    made.push(topic);
    const failed = `${topic}-failed`;
    adapter = createRedisStreamsAdapter({ connection: REDIS_URL });
    const failing = { value: true };
    // The idempotent handler's effects: one per event id, however often it is delivered.
    const effects = new Set<string>();
    let deliveries = 0;
    const failedSeen = new Collector();
    const otherSeen = new Collector();
    const observer = new ObserverLog();
    const deadLetterTopic = defaultDeadLetterTopic(topic, failed);
    await adapter.subscribe(
      {
        group: `${topic}-other`,
        topics: [topic],
        concurrency: 32,
        ordering: 'none',
        startFrom: 'earliest',
        maxAttempts: 5,
        handlerTimeoutMs: 5_000,
      },
      otherSeen.handler('other'),
    );
    await adapter.subscribe(
      {
        group: failed,
        topics: [topic],
        concurrency: 32,
        ordering: 'none',
        startFrom: 'earliest',
        maxAttempts: 5,
        handlerTimeoutMs: 5_000,
      },
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
    await observer.until((log) => log.landed.length >= LETTERS, 60_000);
    await otherSeen.untilDistinct(LETTERS, 60_000);
    const otherBefore = otherSeen.deliveries.length;
    failing.value = false;

    const started = performance.now();
    child = runFixture('redrive.ts', [REDIS_URL, topic, failed, String(RATE)]);
    await child.line('READY');
    await failedSeen.until(
      () => effects.size >= LETTERS / 2,
      60_000,
      () => `${effects.size} redriven`,
    );
    child.process.kill('SIGKILL');
    await child.exited;
    const atKill = effects.size;
    const operator = createOperator({ adapter });
    let left = 0;
    for await (const _ of operator.browse({ topic, group: failed }, { pageSize: 1_000 })) left++;
    expect(left, 'the kill fell before the end').toBeGreaterThan(0);

    child = runFixture('redrive.ts', [REDIS_URL, topic, failed, String(RATE)]);
    await child.line('DONE', 120_000);
    await failedSeen.until(
      () => effects.size >= LETTERS,
      60_000,
      () => `${effects.size} of ${LETTERS} handled`,
    );
    const tookMs = performance.now() - started;
    console.log(
      `redrive of ${LETTERS} (killed at ${atKill} handled, ${left} left stored): ${Math.round(tookMs)} ms, ${deliveries} deliveries`,
    );
    let stored = 0;
    for await (const _ of operator.browse({ topic, group: failed }, { pageSize: 1_000 })) stored++;
    expect(stored).toBe(0);
    expect(effects.size).toBe(LETTERS);
    // Each dead letter leaves the store in the script that hands its original back to the group,
    // so even a kill leaves none delivered twice.
    expect(deliveries).toBe(LETTERS);
    await quietPeriod(500);
    expect(otherSeen.deliveries.length).toBe(otherBefore);
  }, 300_000);
});
