import { Collector, ObserverLog, quietPeriod } from '@tidings/conformance';
import { createOperator, defaultDeadLetterTopic } from '@tidings/core';
import type { IncomingRecord, Settlement } from '@tidings/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { RABBITMQ_URL } from './support/broker';
import { type FixtureProcess, startFixture } from './support/child';
import { useBroker } from './support/fixture';

// 1,000 here; `npm run test:redrive-big` runs the same with 10,000 (TIDINGS_REDRIVE_LETTERS).
const LETTERS = Number(process.env.TIDINGS_REDRIVE_LETTERS ?? 1_000);
// About four seconds for the whole redrive at this rate, so that the kill falls in its middle.
const RATE = Math.max(250, Math.ceil(LETTERS / 4));
// Every page is a pass over the dead-letter queue: larger batches when there are more letters.
const BATCH = Math.max(50, Math.floor(LETTERS / 20));
const EVENT_ID = 'x-event-id';

describe('a redrive killed with SIGKILL half-way and run again', () => {
  const broker = useBroker('redrive-crash');
  let child: FixtureProcess | undefined;

  afterEach(() => {
    child?.process.kill('SIGKILL');
  });

  it(`ends with each of ${LETTERS} dead letters handled by the failed group, none by the other, the store empty`, async () => {
    const adapter = await broker.adapter();
    const topic = 'redrive-crash';
    const failed = 'failed';
    const deadLetterTopic = defaultDeadLetterTopic(topic, failed);
    const failing = { value: true };
    // The idempotent handler's effects: one per event id, however often it is delivered.
    const effects = new Set<string>();
    let deliveries = 0;
    const failedSeen = new Collector();
    const otherSeen = new Collector();
    const observer = new ObserverLog();
    await adapter.subscribe(broker.spec('other', [topic], 32), otherSeen.handler('other'));
    await adapter.subscribe(
      broker.spec(failed, [topic], 32),
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
        effects.add(record.headers[EVENT_ID]!);
        return { type: 'ack' };
      }),
      observer,
    );
    for (let i = 0; i < LETTERS; i += 500) {
      await adapter.publish(
        Array.from({ length: Math.min(500, LETTERS - i) }, (_, j) => ({
          topic,
          key: `k-${(i + j) % 97}`,
          headers: { [EVENT_ID]: `event-${i + j}` },
          body: Buffer.from(`body-${i + j}`),
        })),
      );
    }
    await observer.until((log) => log.landed.length >= LETTERS, 120_000);
    await otherSeen.untilDistinct(LETTERS, 120_000);
    const otherBefore = otherSeen.deliveries.length;
    failing.value = false;
    const args = [RABBITMQ_URL, broker.exchange, topic, failed, String(RATE), String(BATCH)];

    const started = performance.now();
    child = startFixture('redrive.ts', args);
    await child.printed('READY');
    // A fixture that fails says so (its stderr) rather than leaving the wait to time out.
    const halfWay = failedSeen.until(
      () => effects.size >= LETTERS / 2,
      120_000,
      () => `${effects.size} redriven`,
    );
    await Promise.race([halfWay, child.printed('DONE', 120_000)]);
    child.process.kill('SIGKILL');
    await child.exited;
    const atKill = effects.size;
    const operator = createOperator({ adapter });
    let left = 0;
    for await (const _ of operator.browse({ topic, group: failed }, { pageSize: 1_000 })) left++;
    expect(left, 'the kill fell before the end').toBeGreaterThan(0);

    child = startFixture('redrive.ts', args);
    await child.printed('DONE', 240_000);
    await failedSeen.until(
      () => effects.size >= LETTERS,
      120_000,
      () => `${effects.size} of ${LETTERS} handled`,
    );
    const tookMs = performance.now() - started;
    // A letter whose copy was confirmed but whose removal the kill cut off is redriven twice:
    // at most the batch in flight at the kill.
    const duplicates = deliveries - LETTERS;
    console.log(
      `redrive of ${LETTERS} in batches of ${BATCH} (killed at ${atKill} handled, ${left} left stored): ${Math.round(tookMs)} ms, ${deliveries} deliveries, ${duplicates} duplicates`,
    );
    let stored = 0;
    for await (const _ of operator.browse({ topic, group: failed }, { pageSize: 1_000 })) stored++;
    expect(stored).toBe(0);
    expect(effects.size).toBe(LETTERS);
    expect(duplicates).toBeGreaterThanOrEqual(0);
    expect(duplicates).toBeLessThanOrEqual(BATCH);
    await quietPeriod(500);
    expect(otherSeen.deliveries.length).toBe(otherBefore);
  }, 600_000);
});
