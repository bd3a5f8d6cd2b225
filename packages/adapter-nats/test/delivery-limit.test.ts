import { ObserverLog } from '@tidings/conformance';
import type { IncomingRecord, RecordHandler, Settlement } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { createNatsAdapter, type NatsAdapter, type NatsAdapterOptions } from '../src/index';
import { consumerName } from '../src/subjects';
import { natsFixture } from './support/fixture';
import { deleteStream, NATS_URL, uniqueName } from './support/nats';
import { subscribeSpec } from './support/spec';
import { pause, Waiter } from './support/waiter';

const ACK: Settlement = { type: 'ack' };

// Streams of this file's own, deleted at the end; every test uses topics of its own.
const prefix = uniqueName('tlim');
const stream = prefix.toUpperCase();
const fx = natsFixture(async () => {
  await deleteStream(stream);
  await deleteStream(`${stream}_FULL`);
});

// One attempt and one extra delivery: the consumer's max_deliver is 2, so the second delivery of
// a record is its last.
const LIMITED = { maxAttempts: 1 } as const;

function adapter(options: Partial<NatsAdapterOptions> = {}): Promise<NatsAdapter> {
  return fx.open(
    createNatsAdapter({
      servers: NATS_URL,
      prefix,
      stream: { name: stream },
      extraDeliveries: 1,
      ...options,
    }),
  );
}

const text = (record: { body: Uint8Array }): string => Buffer.from(record.body).toString();

function deadLetterTo(topic: string, reason: string): Settlement {
  return { type: 'deadLetter', topic, reason, headers: { 'tidings-dlq-reason': reason } };
}

/** A handler that records what it is given, and lets the test wait for it. */
function recorder(decide: (record: IncomingRecord) => Settlement | Promise<Settlement>): {
  seen: IncomingRecord[];
  waiter: Waiter;
  handler: RecordHandler;
} {
  const seen: IncomingRecord[] = [];
  const waiter = new Waiter();
  return {
    seen,
    waiter,
    handler: async (record) => {
      seen.push(record);
      waiter.notify();
      return decide(record);
    },
  };
}

describe('records at the delivery limit (max_deliver)', () => {
  it('runs a retry of the last delivery in the process, since the server would drop it', async () => {
    const nats = await adapter();
    const topic = uniqueName('last-retry');
    const attempts = recorder((record) =>
      record.attempt < 3 ? { type: 'retry', delayMs: 50, headers: {} } : ACK,
    );
    const spec = subscribeSpec(topic, LIMITED);
    await nats.subscribe(spec, attempts.handler);
    await nats.publish([{ topic, key: 'k', headers: {}, body: Buffer.from('again') }]);
    await attempts.waiter.until(
      () => attempts.seen.length >= 3,
      10_000,
      () => `attempts ${attempts.seen.map((r) => r.attempt).join(', ')}`,
    );
    expect(attempts.seen.map((record) => record.attempt)).toEqual([1, 2, 3]);
    await pause(300);
    const info = await (await fx.raw().jetstreamManager()).consumers.info(
      stream,
      consumerName(spec.group, topic),
    );
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
  });

  it('keeps a record whose dead letter the stream refuses, tries again with a growing pause, and lands it once there is room', async () => {
    const full = `${stream}_FULL`;
    const fullPrefix = `${prefix}full`;
    // A stream that takes three records and refuses more until some are gone.
    const nats = await adapter({
      prefix: fullPrefix,
      stream: { name: full, maxMessages: 3, discard: 'new' },
    });
    const topic = uniqueName('full');
    const dlqTopic = `${topic}.dlq`;
    const observer = new ObserverLog();
    const main = recorder((record) =>
      text(record) === 'poison' ? deadLetterTo(dlqTopic, 'ValidationError: poison') : ACK,
    );
    // The stream is full before the group reads it.
    await nats.publish([
      { topic, key: 'p', headers: { 'x-original': 'yes' }, body: Buffer.from('poison') },
      { topic, key: 'a', headers: {}, body: Buffer.from('after-1') },
      { topic, key: 'b', headers: {}, body: Buffer.from('after-2') },
    ]);
    const spec = subscribeSpec(topic, LIMITED);
    const subscription = await nats.subscribe(spec, main.handler, observer);
    await observer.until((log) => log.failed.length >= 1, 10_000);
    expect(observer.failed[0]!.error.message).toMatch(/maximum messages exceeded/);
    expect(observer.failed[0]!.settlement.type).toBe('deadLetter');
    // The records behind it go on.
    await main.waiter.until(
      () => main.seen.filter((r) => text(r) !== 'poison').length >= 2,
      10_000,
      () => `${main.seen.length} records handled`,
    );

    // While the stream is full: tried again a few times, not in a tight loop, and the record is
    // neither redelivered (no delivery spent) nor reported again.
    const errors = new Set<Error>();
    const started = Date.now();
    while (Date.now() - started < 2_200) {
      if (subscription.lastError !== undefined) errors.add(subscription.lastError);
      await pause(25);
    }
    // Tried at once, then after 1 s (and 2 s more): two or three failures, not hundreds.
    expect(errors.size).toBeGreaterThanOrEqual(2);
    expect(errors.size).toBeLessThanOrEqual(3);
    expect(observer.failed).toHaveLength(1);
    expect(observer.landed).toHaveLength(0);
    expect(main.seen.filter((r) => text(r) === 'poison')).toHaveLength(1);
    const jsm = await fx.raw().jetstreamManager();
    const held = await jsm.consumers.info(full, consumerName(spec.group, topic));
    expect(held.num_ack_pending).toBe(1);
    expect(held.num_redelivered).toBe(0);

    // Room again: the dead letter lands, with its real reason, and the original is settled.
    const stored = await jsm.streams.info(full);
    await jsm.streams.deleteMessage(full, stored.state.last_seq);
    await observer.until((log) => log.landed.length >= 1, 40_000);
    expect(observer.landed[0]!.landed).toEqual({
      topic: dlqTopic,
      reason: 'ValidationError: poison',
      reduced: [],
    });
    const dead = recorder(() => ACK);
    await nats.subscribe(subscribeSpec(dlqTopic), dead.handler);
    await dead.waiter.until(
      () => dead.seen.length >= 1,
      10_000,
      () => 'the dead letter is not in the stream',
    );
    expect(text(dead.seen[0]!)).toBe('poison');
    expect(dead.seen[0]!.headers).toMatchObject({
      'x-original': 'yes',
      'tidings-dlq-reason': 'ValidationError: poison',
    });
    await pause(200);
    const settled = await jsm.consumers.info(full, consumerName(spec.group, topic));
    expect(settled.num_ack_pending).toBe(0);
    expect(main.seen.filter((r) => text(r) === 'poison')).toHaveLength(1);
  }, 60_000);

  it('dead-letters a record whose member died holding its last delivery, through another member, on the MAX_DELIVERIES advisory', async () => {
    const topic = uniqueName('given-up');
    const dlqTopic = `${topic}.dlq`;
    const group = uniqueName('g');
    const spec = subscribeSpec(topic, { ...LIMITED, group });
    // Members that take the record and never finish with it, as a process that hangs or dies.
    const stuck = recorder(() => new Promise<Settlement>(() => undefined));
    const first = await adapter();
    const firstSubscription = await first.subscribe(spec, stuck.handler);
    await first.publish([{ topic, key: 'k', headers: { 'x-original': 'yes' }, body: Buffer.from('stuck') }]);
    await stuck.waiter.until(
      () => stuck.seen.length >= 1,
      10_000,
      () => 'first delivery',
    );
    await firstSubscription.close({ signal: AbortSignal.abort() });
    const second = await adapter();
    const secondSubscription = await second.subscribe(spec, stuck.handler);
    await stuck.waiter.until(
      () => stuck.seen.length >= 2,
      10_000,
      () => 'second (last) delivery',
    );
    expect(stuck.seen.map((record) => record.attempt)).toEqual([1, 2]);

    // A healthy member, with a handler that dead-letters what comes past the last attempt, as the
    // core does; then the member holding the last delivery dies.
    const observer = new ObserverLog();
    const healthy = recorder((record) =>
      record.attempt > LIMITED.maxAttempts
        ? deadLetterTo(dlqTopic, `NonRetryableError: delivered ${record.attempt} times`)
        : new Promise<Settlement>(() => undefined),
    );
    const third = await adapter();
    await third.subscribe(spec, healthy.handler, observer);
    await secondSubscription.close({ signal: AbortSignal.abort() });

    await observer.until((log) => log.landed.length >= 1, 15_000);
    expect(healthy.seen.map((record) => record.attempt)).toEqual([3]);
    expect(healthy.seen[0]!.key).toBe('k');
    expect(healthy.seen[0]!.headers).toMatchObject({ 'x-original': 'yes' });
    const dead = recorder(() => ACK);
    await third.subscribe(subscribeSpec(dlqTopic), dead.handler);
    await dead.waiter.until(
      () => dead.seen.length >= 1,
      10_000,
      () => 'the dead letter is not in the stream',
    );
    expect(text(dead.seen[0]!)).toBe('stuck');
    expect(dead.seen[0]!.headers['tidings-dlq-reason']).toBe('NonRetryableError: delivered 3 times');
  });
});
