import { Collector, ObserverLog, quietPeriod } from '@tidings/conformance';
import { createOperator, defaultDeadLetterTopic } from '@tidings/core';
import type { IncomingRecord, Settlement, SubscribeSpec } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import type { RedisStreamsAdapterOptions } from '../src';
import { REDRIVE_CONSUMER } from '../src/operations';
import { ACK, spec, useTestKit } from './kit';

const COUNT = 60;

function settle(failing: { value: boolean }, deadLetterTopic: string, group: string) {
  return (record: IncomingRecord): Settlement =>
    failing.value
      ? {
          type: 'deadLetter',
          topic: deadLetterTopic,
          reason: 'NonRetryableError: poison',
          headers: {
            'tidings-dlq-reason': 'NonRetryableError: poison',
            'tidings-dlq-original-position': record.position,
            'tidings-dlq-group': group,
          },
        }
      : ACK;
}

describe('dead letters and replay on Redis Streams', () => {
  const { adapter, names, redis } = useTestKit();

  /** Two groups on a topic; `failed` dead-letters every record while `failing` is set. */
  async function setup(
    label: string,
    options: RedisStreamsAdapterOptions = {},
    extra: Partial<SubscribeSpec> = {},
    key: (i: number) => string | undefined = (i) => `k-${i % 7}`,
  ) {
    const { topic, group } = names(label);
    const failed = `${group}-failed`;
    const a = adapter(options);
    const failing = { value: true };
    const failedSeen = new Collector();
    const otherSeen = new Collector();
    const observer = new ObserverLog();
    await a.subscribe(
      spec({ group: `${group}-other`, topics: [topic], ...extra }),
      otherSeen.handler('other'),
    );
    await a.subscribe(
      spec({ group: failed, topics: [topic], ...extra }),
      failedSeen.handler('failed', settle(failing, defaultDeadLetterTopic(topic, failed), failed)),
      observer,
    );
    const ceId = (i: number) => `event-${label}-${i}`;
    await a.publish(
      Array.from({ length: COUNT }, (_, i) => ({
        topic,
        key: key(i),
        headers: { ce_id: ceId(i) },
        body: Buffer.from(`${label}-${i}`),
      })),
    );
    await observer.until((log) => log.landed.length >= COUNT, 10_000);
    await otherSeen.untilDistinct(COUNT, 10_000);
    return { a, topic, failed, failing, failedSeen, otherSeen, operator: createOperator({ adapter: a }) };
  }

  async function redriveAll(s: Awaited<ReturnType<typeof setup>>): Promise<void> {
    s.failing.value = false;
    const before = s.failedSeen.deliveries.length;
    const otherBefore = s.otherSeen.deliveries.length;
    const report = await s.operator.redrive({ topic: s.topic, group: s.failed }, { ratePerSecond: 10_000 });
    expect(report).toMatchObject({ redriven: COUNT, refused: [] });
    await s.failedSeen.until(
      // Bodies, not positions: the shards of a topic may hold entries of the same id.
      () => s.failedSeen.distinctBodies().size >= COUNT && s.failedSeen.deliveries.length - before >= COUNT,
      15_000,
      () => `${s.failedSeen.deliveries.length - before} of ${COUNT} redriven`,
    );
    const redriven = s.failedSeen.deliveries.slice(before);
    expect(new Set(redriven.map((d) => Buffer.from(d.record.body).toString())).size).toBe(COUNT);
    expect(redriven.every((d) => d.record.attempt === 1)).toBe(true);
    expect((await s.operator.page({ topic: s.topic, group: s.failed })).letters).toEqual([]);
    await quietPeriod(300);
    expect(s.otherSeen.deliveries.length).toBe(otherBefore);
  }

  it('redrives a sharded topic, records without a key included, to the failed group only', async () => {
    const s = await setup('sharded', { shards: 3 }, {}, (i) => (i % 2 === 0 ? undefined : `k-${i}`));
    const page = await s.operator.page({ topic: s.topic, group: s.failed }, { limit: COUNT });
    expect(page.letters).toHaveLength(COUNT);
    expect(page.letters.every((letter) => /^\d:\d+-\d+$/.test(letter.id))).toBe(true);
    await redriveAll(s);
  });

  it('redrives to an ordered group, whose lease holder claims the entries', async () => {
    const s = await setup('ordered', {}, { ordering: 'key' });
    await redriveAll(s);
  });

  it('leaves a dead letter whose original was trimmed, with the reason', async () => {
    const s = await setup('trimmed');
    const admin = await redis();
    await admin.xtrim(s.topic, 'MAXLEN', 0);
    s.failing.value = false;
    const report = await s.operator.redrive({ topic: s.topic, group: s.failed });
    expect(report.redriven).toBe(0);
    expect(report.refused).toHaveLength(COUNT);
    expect(report.refused[0]!.reason).toMatch(/no longer in its stream/);
    expect(
      (await s.operator.page({ topic: s.topic, group: s.failed }, { limit: COUNT })).letters,
    ).toHaveLength(COUNT);
    // Nothing was left pending for the placeholder consumer.
    const consumers = (await admin.xinfo('CONSUMERS', s.topic, s.failed)) as unknown[][];
    expect(consumers.some((c) => c[1] === REDRIVE_CONSUMER)).toBe(false);
  });

  it('replays from a stream id, inclusive, to one group; refuses a group that does not exist', async () => {
    const { topic, group } = names('replay');
    const a = adapter();
    const target = new Collector();
    const other = new Collector();
    await a.subscribe(spec({ group, topics: [topic] }), target.handler('t'));
    await a.subscribe(spec({ group: `${group}-other`, topics: [topic] }), other.handler('o'));
    await a.publish(
      Array.from({ length: 10 }, (_, i) => ({
        topic,
        key: undefined,
        headers: {},
        body: Buffer.from(`r-${i}`),
      })),
    );
    await target.untilDistinct(10, 10_000);
    await other.untilDistinct(10, 10_000);
    const sixth = target.deliveries.find((d) => Buffer.from(d.record.body).toString() === 'r-5')!.record
      .position;
    const operator = createOperator({ adapter: a });
    await operator.replay(topic, group, { position: sixth });
    await target.until(
      () => target.deliveries.length >= 15,
      10_000,
      () => `${target.deliveries.length} of 15`,
    );
    await quietPeriod(300);
    expect(
      target.deliveries
        .slice(10)
        .map((d) => Buffer.from(d.record.body).toString())
        .sort(),
    ).toEqual(['r-5', 'r-6', 'r-7', 'r-8', 'r-9']);
    expect(other.deliveries).toHaveLength(10);
    await expect(operator.replay(topic, 'nobody', { time: new Date(0) })).rejects.toMatchObject({
      field: 'group',
    });
    await expect(operator.replay(topic, group, { position: 'x' })).rejects.toMatchObject({
      field: 'from.position',
    });
  });
});
