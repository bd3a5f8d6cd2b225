import { createOperator, defaultDeadLetterTopic, type Operator } from '@tidings/core';
import type { AdapterCapabilities, BrokerAdapter, Settlement } from '@tidings/core/adapter';
import { expect } from 'vitest';
import { ACK, bodyText, Collector, ObserverLog, quietPeriod } from '../collector';
import { type Fixture, publishInBatches, records } from '../fixture';
import type { Scenario, ScenarioSettings } from '../scenario';

// Hundreds, not thousands: the suite runs on every adapter; the big run is a script of its own.
const LETTERS = 200;
const REASONS = ['ValidationError: total must be positive', 'TimeoutError: payment took too long'] as const;

const needsDeadLetters = (c: AdapterCapabilities): string | undefined =>
  c.operations?.deadLetters === true
    ? undefined
    : (c.operations?.deadLetters ??
      'the adapter declares no dead-letter operations (capabilities.operations)');

const needsReplay = (c: AdapterCapabilities): string | undefined =>
  c.operations?.replay === true
    ? undefined
    : (c.operations?.replay ?? 'the adapter declares no history replay (capabilities.operations)');

interface DeadLetterSetup {
  readonly adapter: BrokerAdapter;
  readonly operator: Operator;
  readonly topic: string;
  /** The group whose records were dead-lettered. */
  readonly failed: string;
  readonly failedSeen: Collector;
  /** Another group of the same topic, which handled every record. */
  readonly otherSeen: Collector;
  /** Set to false to let the failed group handle its records. */
  readonly failing: { value: boolean };
}

/**
 * Two groups on one topic; one dead-letters every record while `failing` is set (half with each
 * of two reasons), the other acknowledges them. Resolves once every dead letter is stored.
 */
async function deadLetters(fx: Fixture, settings: ScenarioSettings, label: string): Promise<DeadLetterSetup> {
  const adapter = await fx.adapter();
  // Labels of their own: the fixture's names are unique per label, and other scenarios' topics
  // (`resume`) keep their records on a shared broker.
  const topic = fx.topic(`dl-${label}`);
  const failed = fx.group(`dl-${label}-failed`);
  const other = fx.group(`dl-${label}-other`);
  const failedSeen = new Collector();
  const otherSeen = new Collector();
  const observer = new ObserverLog();
  const failing = { value: true };
  const deadLetterTopic = defaultDeadLetterTopic(topic, failed);
  await adapter.subscribe(fx.spec({ group: other, topics: [topic] }), otherSeen.handler('other'));
  await adapter.subscribe(
    fx.spec({ group: failed, topics: [topic] }),
    failedSeen.handler('failed', (record): Settlement => {
      if (!failing.value) return ACK;
      const i = Number(bodyText(record).split('-').at(-1));
      const reason = REASONS[i % 2]!;
      const at = new Date().toISOString();
      return {
        type: 'deadLetter',
        topic: deadLetterTopic,
        reason,
        headers: {
          'tidings-attempt': '1',
          'tidings-dlq-reason': reason,
          'tidings-dlq-error-name': reason.split(':')[0]!,
          'tidings-dlq-error-message': reason.split(': ')[1]!,
          'tidings-dlq-attempts': String(record.attempt),
          'tidings-dlq-original-topic': record.topic,
          'tidings-dlq-original-position': record.position,
          'tidings-dlq-group': failed,
          'tidings-dlq-first-failure-at': at,
          'tidings-dlq-last-failure-at': at,
        },
      };
    }),
    observer,
  );
  await publishInBatches(
    adapter,
    records(topic, label, LETTERS, {
      key: (i) => `key-${i % 17}`,
      headers: (i) => ({ 'x-index': String(i) }),
    }),
  );
  await observer.until((log) => log.landed.length >= LETTERS, settings.deliveryTimeoutMs);
  await otherSeen.untilDistinct(LETTERS, settings.deliveryTimeoutMs);
  const operator = createOperator({ adapter });
  return { adapter, operator, topic, failed, failedSeen, otherSeen, failing };
}

async function stored(setup: DeadLetterSetup): Promise<string[]> {
  const bodies: string[] = [];
  for await (const letter of setup.operator.browse({ topic: setup.topic, group: setup.failed })) {
    bodies.push(bodyText(letter));
  }
  return bodies;
}

export const deadLetterBrowse: Scenario = {
  name: 'dead-letter-browse',
  title: 'lists dead letters with their failure metadata, filtered, without consuming them',
  unsupported: needsDeadLetters,
  async run(fx, settings) {
    const setup = await deadLetters(fx, settings, 'browse');
    const { operator, topic, failed } = setup;
    const all = [];
    for await (const letter of operator.browse({ topic, group: failed }, { pageSize: 33 })) all.push(letter);
    expect(all.map(bodyText).sort()).toEqual(Array.from({ length: LETTERS }, (_, i) => `browse-${i}`).sort());
    const first = all.find((letter) => bodyText(letter) === 'browse-3')!;
    expect(first.key).toBe('key-3');
    expect(first.headers['x-index']).toBe('3');
    expect(first.failure).toMatchObject({
      reason: REASONS[1],
      errorName: 'TimeoutError',
      errorMessage: 'payment took too long',
      attempts: 1,
      reduced: [],
    });
    expect(first.failure.firstFailureAt).toBeInstanceOf(Date);
    expect(first.failure.lastFailureAt).toBeInstanceOf(Date);
    expect(first.failure.originalPosition).toBeTruthy();
    expect(new Set(all.map((letter) => letter.id)).size).toBe(LETTERS);
    // Not consumed: a second look sees them all, and a filter narrows them.
    expect((await stored(setup)).length).toBe(LETTERS);
    const validation = [];
    for await (const letter of operator.browse({ topic, group: failed, reason: 'ValidationError' })) {
      validation.push(letter);
    }
    expect(validation.length).toBe(LETTERS / 2);
    expect(validation.every((letter) => letter.failure.errorName === 'ValidationError')).toBe(true);
    // Pages: a cursor reads on where the last page stopped, and the last page says so.
    const seen = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await operator.page({ topic, group: failed }, { cursor, limit: 64 });
      for (const letter of page.letters) seen.add(letter.id);
      cursor = page.cursor;
      pages++;
    } while (cursor !== undefined);
    expect(seen.size).toBe(LETTERS);
    expect(pages).toBeLessThanOrEqual(Math.ceil(LETTERS / 64) + 1);
    const one = await operator.deadLetter({ topic, group: failed }, first.id);
    expect(bodyText(one)).toBe('browse-3');
    await expect(operator.deadLetter({ topic, group: failed }, '999999999999-0')).rejects.toMatchObject({
      code: 'DEAD_LETTER_NOT_FOUND',
    });
  },
};

export const deadLetterRedrive: Scenario = {
  name: 'dead-letter-redrive',
  title: 'redrives dead letters to the failed group only, at attempt 1, and empties the store',
  unsupported: needsDeadLetters,
  async run(fx, settings) {
    const setup = await deadLetters(fx, settings, 'redrive');
    const { operator, topic, failed, failedSeen, otherSeen } = setup;
    setup.failing.value = false;
    const before = failedSeen.deliveries.length;
    const otherBefore = otherSeen.deliveries.length;
    const report = await operator.redrive({ topic, group: failed }, { ratePerSecond: 10_000 });
    expect(report).toMatchObject({ redriven: LETTERS, missing: 0, refused: [], aborted: false });
    await failedSeen.until(
      () => new Set(failedSeen.deliveries.slice(before).map((d) => bodyText(d.record))).size >= LETTERS,
      settings.deliveryTimeoutMs,
      () => `${failedSeen.deliveries.length - before} of ${LETTERS} redriven records delivered`,
    );
    const redriven = failedSeen.deliveries.slice(before);
    const sample = redriven.find((d) => bodyText(d.record) === 'redrive-5')!.record;
    expect(sample.attempt).toBe(1);
    expect(sample.key).toBe('key-5');
    expect(sample.headers['x-index']).toBe('5');
    expect(Object.keys(sample.headers).filter((name) => name.startsWith('tidings-dlq-'))).toEqual([]);
    expect(await stored(setup)).toEqual([]);
    // The other group handled these records already: it receives nothing.
    await quietPeriod(500);
    expect(otherSeen.deliveries.length - otherBefore).toBe(0);
  },
};

export const deadLetterRedriveResume: Scenario = {
  name: 'dead-letter-redrive-resume',
  title: 'a redrive stopped half-way and run again redrives every dead letter and empties the store',
  unsupported: needsDeadLetters,
  async run(fx, settings) {
    const setup = await deadLetters(fx, settings, 'resume');
    const { operator, topic, failed, failedSeen, otherSeen } = setup;
    setup.failing.value = false;
    const before = failedSeen.deliveries.length;
    const otherBefore = otherSeen.deliveries.length;
    const stop = new AbortController();
    const redriven = () => new Set(failedSeen.deliveries.slice(before).map((d) => bodyText(d.record)));
    // Stop once a quarter has come back; at 200 a second the whole run would take a second.
    void failedSeen
      .until(
        () => redriven().size >= LETTERS / 4,
        settings.deliveryTimeoutMs,
        () => 'no quarter',
      )
      .then(() => stop.abort());
    const first = await operator.redrive(
      { topic, group: failed },
      { ratePerSecond: 200, batchSize: 10, signal: stop.signal },
    );
    expect(first.aborted).toBe(true);
    expect(first.redriven).toBeGreaterThan(0);
    expect(first.redriven).toBeLessThan(LETTERS);
    expect((await stored(setup)).length).toBe(LETTERS - first.redriven);
    const second = await operator.redrive({ topic, group: failed }, { ratePerSecond: 10_000 });
    expect(second.aborted).toBe(false);
    expect(first.redriven + second.redriven).toBe(LETTERS);
    await failedSeen.until(
      () => redriven().size >= LETTERS,
      settings.deliveryTimeoutMs,
      () => `${redriven().size} of ${LETTERS} redriven records delivered`,
    );
    expect(await stored(setup)).toEqual([]);
    await quietPeriod(500);
    expect(otherSeen.deliveries.length - otherBefore).toBe(0);
  },
};

export const deadLetterPurge: Scenario = {
  name: 'dead-letter-purge',
  title: 'purges the selected dead letters and says how many',
  unsupported: needsDeadLetters,
  async run(fx, settings) {
    const setup = await deadLetters(fx, settings, 'purge');
    const { operator, topic, failed } = setup;
    expect(await operator.purge({ topic, group: failed, reason: /^TimeoutError/ })).toBe(LETTERS / 2);
    const left = await stored(setup);
    expect(left.length).toBe(LETTERS / 2);
    expect(left.every((body) => Number(body.split('-').at(-1)) % 2 === 0)).toBe(true);
    expect(await operator.purge({ topic, group: failed })).toBe(LETTERS / 2);
    expect(await operator.purge({ topic, group: failed })).toBe(0);
    expect(await stored(setup)).toEqual([]);
  },
};

export const replayFromTime: Scenario = {
  name: 'replay-from-time',
  title: 'replays from a time exactly the records stored after it, to one group only',
  unsupported: (c) => needsReplay(c) ?? (c.replay ? undefined : 'the broker retains no history'),
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('replay-from-time');
    const replayed = fx.group('replay-from-time-target');
    const other = fx.group('replay-from-time-other');
    const target = new Collector();
    const bystander = new Collector();
    await adapter.subscribe(fx.spec({ group: replayed, topics: [topic] }), target.handler('target'));
    await adapter.subscribe(fx.spec({ group: other, topics: [topic] }), bystander.handler('other'));
    const count = 100;
    await publishInBatches(adapter, records(topic, 'before', count));
    await target.untilDistinct(count, settings.deliveryTimeoutMs);
    await bystander.untilDistinct(count, settings.deliveryTimeoutMs);
    // The boundary: a millisecond after every earlier record was stored, before any later one.
    const mark = await nextMillisecond();
    await publishInBatches(adapter, records(topic, 'after', count));
    await target.untilDistinct(2 * count, settings.deliveryTimeoutMs);
    await bystander.untilDistinct(2 * count, settings.deliveryTimeoutMs);
    const targetBefore = target.deliveries.length;
    const otherBefore = bystander.deliveries.length;
    await createOperator({ adapter }).replay(topic, replayed, { time: mark });
    await target.until(
      () => target.deliveries.length - targetBefore >= count,
      settings.deliveryTimeoutMs,
      () => `${target.deliveries.length - targetBefore} of ${count} records replayed`,
    );
    // Nothing more comes: exactly the later records, once each, and nothing to the other group.
    await quietPeriod(500);
    const again = target.deliveries.slice(targetBefore).map((d) => bodyText(d.record));
    expect(again.sort()).toEqual(Array.from({ length: count }, (_, i) => `after-${i}`).sort());
    expect(bystander.deliveries.length - otherBefore).toBe(0);
  },
};

/** A time after the current millisecond, waited for by yielding to the event loop, not sleeping. */
async function nextMillisecond(): Promise<Date> {
  const start = Date.now();
  while (Date.now() <= start) await new Promise((resolve) => setImmediate(resolve));
  return new Date(start + 1);
}
