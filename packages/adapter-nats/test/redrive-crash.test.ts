import { Collector, ObserverLog, quietPeriod } from '@tidings/conformance';
import { createOperator, defaultDeadLetterTopic } from '@tidings/core';
import type { IncomingRecord, Settlement } from '@tidings/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { createNatsAdapter, type NatsAdapter } from '../src/index';
import { type FixtureProcess, startFixture } from './support/child';
import { deleteStream, NATS_URL, uniqueName } from './support/nats';
import { subscribeSpec } from './support/spec';

// 1,000 here; `npm run test:redrive-big` runs the same with 10,000 (TIDINGS_REDRIVE_LETTERS).
const LETTERS = Number(process.env.TIDINGS_REDRIVE_LETTERS ?? 1_000);
// The whole redrive takes about four seconds at this rate, so the kill falls in its middle.
const RATE = Math.max(250, Math.ceil(LETTERS / 4));
const BATCH = 500;

describe('a redrive killed with SIGKILL half-way and run again', () => {
  const prefix = uniqueName('trc');
  const stream = prefix.toUpperCase();
  let child: FixtureProcess | undefined;
  let adapter: NatsAdapter | undefined;

  afterEach(async () => {
    await child?.kill();
    await adapter?.close({ signal: AbortSignal.timeout(3_000) });
    await deleteStream(stream);
  });

  it(`ends with each of ${LETTERS} dead letters handled once by the failed group, none by the other, the store empty`, async () => {
    const topic = 'orders';
    const failed = 'billing';
    adapter = createNatsAdapter({ servers: NATS_URL, prefix, stream: { name: stream } });
    await adapter.connect();
    const failing = { value: true };
    // The idempotent handler's effects: one per event id, however often it is delivered.
    const effects = new Set<string>();
    let deliveries = 0;
    const failedSeen = new Collector();
    const otherSeen = new Collector();
    const observer = new ObserverLog();
    const deadLetterTopic = defaultDeadLetterTopic(topic, failed);
    await adapter.subscribe(
      subscribeSpec(topic, { group: 'audit', concurrency: 32 }),
      otherSeen.handler('other'),
    );
    await adapter.subscribe(
      subscribeSpec(topic, { group: failed, concurrency: 32 }),
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
        effects.add(record.headers['ce-id']!);
        return { type: 'ack' };
      }),
      observer,
    );
    for (let i = 0; i < LETTERS; i += BATCH) {
      await adapter.publish(
        Array.from({ length: Math.min(BATCH, LETTERS - i) }, (_, j) => ({
          topic,
          key: `k-${(i + j) % 97}`,
          headers: { 'ce-id': `event-${i + j}` },
          body: Buffer.from(`body-${i + j}`),
        })),
      );
    }
    await observer.until((log) => log.landed.length >= LETTERS, 120_000);
    await otherSeen.untilDistinct(LETTERS, 60_000);
    const otherBefore = otherSeen.deliveries.length;
    failing.value = false;
    const operator = createOperator({ adapter });
    const stored = async (): Promise<number> => {
      let count = 0;
      for await (const _ of operator.browse({ topic, group: failed }, { pageSize: 1_000 })) count++;
      return count;
    };

    const started = performance.now();
    const args = [NATS_URL, prefix, stream, topic, failed, String(RATE)];
    child = startFixture('redrive.ts', args);
    await child.printed('READY');
    await failedSeen.until(
      () => effects.size >= LETTERS / 2,
      60_000,
      () => `${effects.size} redriven`,
    );
    await child.kill();
    const atKill = effects.size;
    const browseStarted = performance.now();
    const left = await stored();
    const browseMs = performance.now() - browseStarted;
    expect(left, 'the kill fell before the end').toBeGreaterThan(0);

    const secondStarted = performance.now();
    child = startFixture('redrive.ts', args);
    await child.printed('DONE', 120_000);
    const secondMs = performance.now() - secondStarted;
    await failedSeen.until(
      () => effects.size >= LETTERS,
      60_000,
      () => `${effects.size} of ${LETTERS} handled`,
    );
    const tookMs = performance.now() - started;
    console.log(
      `redrive of ${LETTERS} (killed at ${atKill} handled, ${left} left stored): ${Math.round(tookMs)} ms in all, ${Math.round(secondMs)} ms for the second run (process start included) at ${RATE}/s, ${Math.round(browseMs)} ms to browse ${left}; ${deliveries} deliveries (${deliveries - effects.size} duplicates)`,
    );
    expect(await stored()).toBe(0);
    expect(effects.size).toBe(LETTERS);
    // A letter whose redelivery was stored just before the kill, and not yet deleted, is published
    // again with the same message id, which the stream's duplicate window drops: none twice.
    expect(deliveries).toBe(LETTERS);
    await quietPeriod(500);
    expect(otherSeen.deliveries.length).toBe(otherBefore);
  }, 300_000);
});
