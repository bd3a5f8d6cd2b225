import { Collector } from '@tidings/conformance';
import {
  type ConsumerLagReporter,
  type IncomingRecord,
  RETRY_HEADERS,
  type Settlement,
  type SubscribeSpec,
} from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { KAFKA_RETRY_HEADERS } from '../src';
import { quietPeriod, subscribeSpec, testAdmin, useKafka } from './helpers';

const kafka = useKafka('t');

const spec = (group: string, topic: string, overrides: Partial<SubscribeSpec> = {}) =>
  subscribeSpec(group, topic, { ordering: 'none', maxAttempts: 10, ...overrides });

/** A retry settlement as the core builds it: the next attempt and the first failure time. */
function retry(record: IncomingRecord, delayMs: number): Settlement {
  return {
    type: 'retry',
    delayMs,
    headers: {
      [RETRY_HEADERS.attempt]: String(record.attempt + 1),
      [RETRY_HEADERS.firstFailureAt]:
        record.headers[RETRY_HEADERS.firstFailureAt] ?? new Date().toISOString(),
    },
  };
}

const ACK: Settlement = { type: 'ack' };

/** Polls `condition` every 100 ms (the lag is read from the broker: there is no event to wait on). */
async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await quietPeriod(100);
  }
}
const text = (record: IncomingRecord): string => Buffer.from(record.body).toString();

describe('kafka retry topics (ordering: none)', () => {
  it('re-publish a retried record to its tier topic and deliver it after the delay, with its attempt and origin', async () => {
    const { topic, group } = kafka.names('tier');
    const adapter = await kafka.adapter();
    const collector = new Collector();
    const settledAt = new Map<number, number>();
    await adapter.subscribe(
      spec(group, topic),
      collector.handler('only', (record) => {
        if (record.attempt >= 3) return ACK;
        settledAt.set(record.attempt, performance.now());
        return retry(record, record.attempt === 1 ? 1_200 : 300);
      }),
    );
    await adapter.publish([{ topic, key: 'k', headers: { 'x-keep': 'yes' }, body: Buffer.from('retry-me') }]);
    await collector.until(
      () => collector.deliveries.length >= 3,
      20_000,
      () => `${collector.deliveries.length} of 3 deliveries`,
    );

    const [first, second, third] = collector.deliveries.map((d) => d);
    expect([first, second, third].map((d) => d!.record.attempt)).toEqual([1, 2, 3]);
    expect(second!.at - settledAt.get(1)!).toBeGreaterThanOrEqual(1_200 - 20);
    expect(third!.at - settledAt.get(2)!).toBeGreaterThanOrEqual(300 - 20);
    for (const delivery of [second!, third!]) {
      const { record } = delivery;
      // The handler sees the topic the record was published to, not the retry topic.
      expect(record.topic).toBe(topic);
      expect(record.key).toBe('k');
      expect(text(record)).toBe('retry-me');
      expect(record.position).toBe(first!.record.position);
      expect(record.headers).toMatchObject({
        'x-keep': 'yes',
        [KAFKA_RETRY_HEADERS.originalTopic]: topic,
        [RETRY_HEADERS.firstFailureAt]: second!.record.headers[RETRY_HEADERS.firstFailureAt],
      });
      expect(Date.parse(record.headers[KAFKA_RETRY_HEADERS.dueAt]!)).toBeLessThanOrEqual(Date.now());
    }
    const admin = await testAdmin();
    const tier = await admin.fetchTopicOffsets(`${topic}.${group}.retry-0s`);
    expect(tier.reduce((sum, p) => sum + Number(p.high), 0)).toBe(2);
  });

  it('count a record waiting in a retry topic in the lag of its topic, until it is settled', async () => {
    const { topic, group } = kafka.names('lag');
    const adapter = await kafka.adapter();
    const collector = new Collector();
    const subscription = await adapter.subscribe(
      spec(group, topic),
      collector.handler('only', (record) => (record.attempt === 1 ? retry(record, 3_000) : ACK)),
    );
    const lag = (subscription as typeof subscription & ConsumerLagReporter).lag.bind(subscription);
    const lagOf = async () => (await lag()).find((entry) => entry.topic === topic)?.messages;
    await adapter.publish([{ topic, key: 'k', headers: {}, body: Buffer.from('later') }]);
    await collector.until(
      () => collector.deliveries.length >= 1,
      20_000,
      () => 'the first delivery never came',
    );
    // Retried: the source offset is committed, the record waits in the retry topic, still owed.
    await waitFor(
      async () => (await lagOf()) === 1 && collector.deliveries.length === 1,
      'lag 1 while waiting',
    );
    // Still 1 well after the source offset's commit (every 200 ms), while the retry waits.
    await quietPeriod(1_000);
    expect(await lagOf()).toBe(1);
    expect(collector.deliveries).toHaveLength(1);
    await collector.until(
      () => collector.deliveries.length >= 2,
      20_000,
      () => 'the retry never came',
    );
    await waitFor(async () => (await lagOf()) === 0, 'lag 0 once settled');
    expect(await lag()).toEqual([{ topic, messages: 0 }]);
  });

  it('keep short delays apart from long ones, even when the long tier is full', async () => {
    const { topic, group } = kafka.names('tiers');
    // One buffered record per partition: a full tier partition is paused.
    const adapter = await kafka.adapter({ consumer: { maxBufferedRecords: 1 } });
    const collector = new Collector();
    const settledAt = new Map<string, number>();
    await adapter.subscribe(
      spec(group, topic),
      collector.handler('only', (record) => {
        if (record.attempt > 1) return ACK;
        settledAt.set(text(record), performance.now());
        return retry(record, text(record).startsWith('long') ? 120_000 : 400);
      }),
    );
    // Same key, same partitions: the long retries fill the 1m tier's partition first.
    await adapter.publish(
      ['long-1', 'long-2', 'long-3'].map((body) => ({
        topic,
        key: 'same',
        headers: {},
        body: Buffer.from(body),
      })),
    );
    await collector.until(
      () => collector.deliveries.length >= 3,
      20_000,
      () => 'the long ones were not delivered',
    );
    await adapter.publish([{ topic, key: 'same', headers: {}, body: Buffer.from('short') }]);
    // Two waits, so that a failure says which half was slow: the first delivery comes from the
    // topic itself, the second from the short tier, which must not wait behind the full long tier.
    await collector.until(
      () => collector.ofBody('short').length >= 1,
      20_000,
      () => 'the short record was not delivered from its topic',
    );
    await collector.until(
      () => collector.ofBody('short').length >= 2,
      20_000,
      () =>
        `the short retry was held back (${collector.deliveries.length} deliveries: ${collector.deliveries
          .map((d) => `${text(d.record)}#${d.record.attempt}@${d.record.position}`)
          .join(', ')})`,
    );
    const again = collector.ofBody('short')[1]!;
    expect(again.record.attempt).toBe(2);
    expect(again.at - settledAt.get('short')!).toBeLessThan(400 + 1_000);
    expect(collector.ofBody('long-1')).toHaveLength(1);
  });

  it('keep the attempt count when the record comes back to another member after a restart', async () => {
    const { topic, group } = kafka.names('restart');
    const first = await kafka.adapter();
    const before = new Collector();
    const subscription = await first.subscribe(
      spec(group, topic),
      before.handler('first', (record) => retry(record, 1_500)),
    );
    await first.publish([{ topic, key: 'k', headers: {}, body: Buffer.from('durable') }]);
    await before.untilDistinct(1, 20_000);
    const retriedAt = performance.now();
    // The member goes away before the retry is due.
    await subscription.close();

    const after = new Collector();
    const second = await kafka.adapter();
    await second.subscribe(
      spec(group, topic),
      after.handler('second', (record) => (record.attempt < 3 ? retry(record, 100) : ACK)),
    );
    await after.until(
      () => after.deliveries.length >= 2,
      20_000,
      () => `${after.deliveries.length} of 2 deliveries after the restart`,
    );
    expect(after.deliveries.map((d) => d.record.attempt)).toEqual([2, 3]);
    expect(after.deliveries[0]!.at - retriedAt).toBeGreaterThanOrEqual(1_500 - 20);
    expect(before.deliveries).toHaveLength(1);
  });
});

describe('kafka in-place retries (ordering: key)', () => {
  it('hold back later records of the key only, and keep the attempt count across a restart', async () => {
    const { topic, group } = kafka.names('inplace');
    const first = await kafka.adapter();
    const before = new Collector();
    let firstFailureAt: string | undefined;
    const subscription = await first.subscribe(
      spec(group, topic, { ordering: 'key' }),
      before.handler('first', (record) => {
        if (text(record) !== 'k1#0') return ACK;
        const settlement = retry(record, 60_000);
        if (settlement.type === 'retry') firstFailureAt = settlement.headers[RETRY_HEADERS.firstFailureAt];
        return settlement;
      }),
    );
    await first.publish(
      ['k1#0', 'k1#1', 'k2#0', 'k2#1'].map((body) => ({
        topic,
        key: body.split('#')[0]!,
        headers: {},
        body: Buffer.from(body),
      })),
    );
    await before.until(
      () => before.ofBody('k2#1').length > 0,
      20_000,
      () => 'the other key was held back',
    );
    await quietPeriod(500);
    expect(before.ofBody('k1#1'), 'a later record of the retried key overtook it').toEqual([]);
    // Closing gives up the retry wait: the record stays with the group, its attempt count committed.
    await subscription.close();

    const after = new Collector();
    const second = await kafka.adapter();
    await second.subscribe(spec(group, topic, { ordering: 'key' }), after.handler('second'));
    await after.untilDistinct(2, 20_000);
    const resumed = after.deliveries.map((d) => [text(d.record), d.record.attempt]);
    expect(resumed).toEqual([
      ['k1#0', 2],
      ['k1#1', 1],
    ]);
    expect(after.deliveries[0]!.record.headers[RETRY_HEADERS.firstFailureAt]).toBe(firstFailureAt);
  });
});
