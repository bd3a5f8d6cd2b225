import { bodyText, Collector, eventually, ObserverLog, quietPeriod } from '@tidings/conformance';
import { createOperator, defaultDeadLetterTopic } from '@tidings/core';
import { type AdapterSubscription, ConnectionError, type Settlement } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { createNatsAdapter, type NatsJetStreamAdapter } from '../src/index';
import { natsFixture } from './support/fixture';
import { deleteStream, NATS_URL, uniqueName } from './support/nats';
import { subscribeSpec } from './support/spec';

// One prefix and stream for this file, deleted at the end; every test uses topics of its own.
const prefix = uniqueName('tops');
const stream = prefix.toUpperCase();
const fx = natsFixture(() => deleteStream(stream));

type Operable = NatsJetStreamAdapter;

async function adapter(): Promise<Operable> {
  return fx.open(createNatsAdapter({ servers: NATS_URL, prefix, stream: { name: stream } }));
}

function records(topic: string, label: string, count: number, keys = 5) {
  return Array.from({ length: count }, (_, i) => ({
    topic,
    key: `k-${i % keys}`,
    headers: { 'x-index': String(i) },
    body: Buffer.from(`${label}-${i}`),
  }));
}

const indexOf = (body: string): number => Number(body.split('-').at(-1));

describe('dead-letter redrive on JetStream', () => {
  it('redelivers to an ordered group in key order, to it alone; a group made later skips the redriven records', async () => {
    const bus = await adapter();
    const topic = uniqueName('redrive.ordered');
    const failed = 'ordered';
    const failing = { value: true };
    const failedSeen = new Collector();
    const otherSeen = new Collector();
    const observer = new ObserverLog();
    const deadLetterTopic = defaultDeadLetterTopic(topic, failed);
    await bus.subscribe(
      subscribeSpec(topic, { group: 'other', ordering: 'key' }),
      otherSeen.handler('other'),
    );
    await bus.subscribe(
      subscribeSpec(topic, { group: failed, ordering: 'key', concurrency: 4 }),
      failedSeen.handler('failed', (): Settlement => {
        if (!failing.value) return { type: 'ack' };
        return {
          type: 'deadLetter',
          topic: deadLetterTopic,
          reason: 'Error: broken',
          headers: { 'tidings-dlq-reason': 'Error: broken', 'tidings-attempt': '1' },
        };
      }),
      observer,
    );
    const count = 60;
    await bus.publish(records(topic, 'r', count));
    await observer.until((log) => log.landed.length >= count, 20_000);
    await otherSeen.untilDistinct(count, 20_000);
    failing.value = false;
    const before = failedSeen.deliveries.length;
    const otherBefore = otherSeen.deliveries.length;

    const report = await createOperator({ adapter: bus }).redrive({ topic, group: failed });
    expect(report).toMatchObject({ redriven: count, missing: 0, refused: [] });
    await failedSeen.until(
      () => failedSeen.deliveries.length - before >= count,
      20_000,
      () => `${failedSeen.deliveries.length - before} of ${count} redriven records delivered`,
    );
    const again = failedSeen.deliveries.slice(before).map((d) => d.record);
    expect(new Set(again.map(bodyText)).size).toBe(count);
    expect(again.every((record) => record.attempt === 1)).toBe(true);
    expect(again.every((record) => record.headers['tidings-redrive-group'] === undefined)).toBe(true);
    // A redriven record is a new record for its key: each key's records come in their order.
    for (let key = 0; key < 5; key++) {
      const order = again.filter((record) => record.key === `k-${key}`).map((r) => indexOf(bodyText(r)));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    // A group that starts at the earliest record now reads the originals, not the redriven copies.
    const late = new Collector();
    await bus.subscribe(subscribeSpec(topic, { group: 'late' }), late.handler('late'));
    await late.untilDistinct(count, 20_000);
    await quietPeriod(500);
    expect(late.deliveries.length).toBe(count);
    expect(otherSeen.deliveries.length).toBe(otherBefore);
  });

  it('run again after dying between the redelivery and the delete, delivers each record once (the duplicate window)', async () => {
    const bus = await adapter();
    const topic = uniqueName('redrive.twice');
    const group = 'twice';
    const at = { topic, group, deadLetterTopic: defaultDeadLetterTopic(topic, group) };
    const failing = { value: true };
    const seen = new Collector();
    const observer = new ObserverLog();
    await bus.subscribe(
      subscribeSpec(topic, { group }),
      seen.handler('twice', (): Settlement => {
        if (!failing.value) return { type: 'ack' };
        return {
          type: 'deadLetter',
          topic: at.deadLetterTopic,
          reason: 'Error: broken',
          headers: { 'tidings-dlq-reason': 'Error: broken' },
        };
      }),
      observer,
    );
    const count = 5;
    await bus.publish(records(topic, 'r', count));
    await observer.until((log) => log.landed.length >= count, 20_000);
    failing.value = false;
    const before = seen.deliveries.length;
    const ids = (await bus.readDeadLetters(at, undefined, 100)).letters.map((letter) => letter.id);
    expect(ids.length).toBe(count);
    // The process dies right after the stream confirmed the redeliveries, before any delete: the
    // adapter's own step is replaced (the broker is the real one).
    const operations = (
      bus as unknown as { connected: { operations: { remove: (seq: number) => Promise<boolean> } } }
    ).connected.operations;
    const remove = operations.remove;
    operations.remove = () => Promise.reject(new ConnectionError('killed'));
    await expect(bus.redriveDeadLetters(at, ids)).rejects.toThrow('killed');
    operations.remove = remove;
    await seen.until(
      () => seen.deliveries.length - before >= count,
      20_000,
      () => `${seen.deliveries.length - before} of ${count} delivered`,
    );
    const again = await bus.redriveDeadLetters(at, ids);
    expect(again.map((outcome) => outcome.status)).toEqual(Array(count).fill('redriven'));
    expect((await bus.readDeadLetters(at, undefined, 100)).letters).toEqual([]);
    await quietPeriod(500);
    expect(seen.deliveries.length - before).toBe(count);
  });

  it('counts unknown ids as missing, purges only its own letters, and refuses a group that no longer reads the topic', async () => {
    const bus = await adapter();
    const topic = uniqueName('redrive.missing');
    const group = 'gone';
    const operator = createOperator({ adapter: bus });
    const at = { topic, group, deadLetterTopic: defaultDeadLetterTopic(topic, group) };
    const observer = new ObserverLog();
    const subscription = await bus.subscribe(
      subscribeSpec(topic, { group }),
      new Collector().handler('gone', () => ({
        type: 'deadLetter',
        topic: at.deadLetterTopic,
        reason: 'Error: broken',
        headers: { 'tidings-dlq-reason': 'Error: broken' },
      })),
      observer,
    );
    await bus.publish(records(topic, 'r', 3));
    await observer.until((log) => log.landed.length >= 3, 20_000);
    const { letters } = await bus.readDeadLetters(at, undefined, 10);
    expect(letters.map((letter) => bodyText(letter)).sort()).toEqual(['r-0', 'r-1', 'r-2']);
    // The topic's own records are stream sequences too, but no dead letters of it.
    const first = Number(letters[0]!.id);
    const outcomes = await bus.redriveDeadLetters(at, [String(first - 1), 'x', '999999999']);
    expect(outcomes.map((o) => o.status)).toEqual(['missing', 'missing', 'missing']);
    expect(await bus.deleteDeadLetters(at, [String(first - 1), 'nope'])).toBe(0);
    await expect(bus.readDeadLetters(at, 'not-a-sequence', 10)).rejects.toMatchObject({ field: 'cursor' });

    await subscription.close();
    expect(await bus.deleteGroup(topic, group)).toBe(true);
    // Every other group would skip the record: redriven to nobody, it would be lost.
    const report = await operator.redrive({ topic, group });
    expect(report.redriven).toBe(0);
    expect(report.refused.map((r) => r.reason)).toEqual(
      Array(3).fill(expect.stringContaining(`"${group}" does not consume topic`)),
    );
    expect(await operator.purge({ topic, group })).toBe(3);
    expect((await bus.readDeadLetters(at, undefined, 10)).letters).toEqual([]);
  });
});

describe('history replay on JetStream', () => {
  it('replays an ordered group from a position while its member runs on, and names a bad group or position', async () => {
    const bus = await adapter();
    const topic = uniqueName('replay.ordered');
    const seen = new Collector();
    const bystander = new Collector();
    const subscription: AdapterSubscription = await bus.subscribe(
      subscribeSpec(topic, { group: 'projection', ordering: 'key' }),
      seen.handler('projection'),
    );
    await bus.subscribe(subscribeSpec(topic, { group: 'bystander' }), bystander.handler('bystander'));
    const count = 40;
    await bus.publish(records(topic, 'a', count));
    await seen.untilDistinct(count, 20_000);
    await bystander.untilDistinct(count, 20_000);
    const from = seen.ofBody('a-20')[0]!.record.position;
    expect(from).toMatch(new RegExp(`^${topic.replaceAll('.', '\\.')}/\\d+@\\d+$`));
    const before = seen.deliveries.length;
    const otherBefore = bystander.deliveries.length;

    await createOperator({ adapter: bus }).replay(topic, 'projection', { position: from });
    await seen.until(
      () => seen.deliveries.length - before >= count - 20,
      20_000,
      () => `${seen.deliveries.length - before} of ${count - 20} replayed`,
    );
    // The member pulls from the recreated consumers: new records reach it too.
    await bus.publish(records(topic, 'b', 5));
    await seen.until(
      () => seen.ofBody('b-4').length > 0,
      20_000,
      () => 'b-4 not delivered after the replay',
    );
    await quietPeriod(500);
    const replayed = seen.deliveries.slice(before).map((d) => bodyText(d.record));
    expect(replayed.filter((body) => body.startsWith('a-')).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `a-${20 + i}`).sort(),
    );
    expect(subscription.state).toBe('running');
    expect(bystander.deliveries.length - otherBefore).toBe(5);

    // Replayed from a time with nothing after it: health says `failed` while the consumer is
    // gone, and `running` again once the new one answers a pull (its idle heartbeat).
    await bus.replayHistory(topic, 'projection', { time: new Date(Date.now() + 60_000) });
    await eventually(
      () => subscription.state === 'failed',
      5_000,
      () => `the subscription stayed ${subscription.state}`,
    );
    await eventually(
      () => subscription.state === 'running',
      15_000,
      () => `the subscription stayed ${subscription.state}`,
    );

    await expect(bus.replayHistory(topic, 'nobody', { position: from })).rejects.toMatchObject({
      field: 'group',
    });
    await expect(
      bus.replayHistory(topic, 'projection', { position: `other.topic/1@5` }),
    ).rejects.toMatchObject({ field: 'from.position' });
    await expect(bus.replayHistory(topic, 'projection', { position: '17' })).rejects.toMatchObject({
      field: 'from.position',
    });
  });
});

describe('history replay on an interest stream', () => {
  it('is declared unavailable, and refused before any consumer is deleted', async () => {
    const interest = uniqueName('tint');
    const name = interest.toUpperCase();
    try {
      const bus = (await fx.open(
        createNatsAdapter({ servers: NATS_URL, prefix: interest, stream: { name, retention: 'interest' } }),
      )) as Operable;
      expect(bus.capabilities.operations?.replay).toMatch(/interest retention/);
      const topic = uniqueName('replay.interest');
      const seen = new Collector();
      await bus.subscribe(subscribeSpec(topic, { group: 'g' }), seen.handler('g'));
      await bus.publish(records(topic, 'r', 3));
      await seen.untilDistinct(3, 20_000);
      await expect(bus.replayHistory(topic, 'g', { time: new Date(0) })).rejects.toMatchObject({
        field: 'stream.retention',
      });
      expect((await bus.describeGroups([topic])).map((g) => g.group)).toEqual(['g']);
    } finally {
      await deleteStream(name);
    }
  });
});

describe('group admin on JetStream', () => {
  it("sums an ordered group's partitions, and refuses to delete a group while a member pulls", async () => {
    const bus = await adapter();
    const admin = await adapter();
    const topic = uniqueName('groups.ordered');
    const seen = new Collector();
    const subscription = await bus.subscribe(
      subscribeSpec(topic, { group: 'ordered', ordering: 'key' }),
      seen.handler('ordered'),
    );
    await bus.publish(records(topic, 'r', 10));
    await seen.untilDistinct(10, 20_000);
    // Handled is not yet acknowledged: the acks reach the server a moment after the handlers return.
    let groups = await admin.describeGroups([topic]);
    for (const deadline = Date.now() + 10_000; groups[0]?.pending !== 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      groups = await admin.describeGroups([topic]);
    }
    const [group, ...others] = groups;
    expect(others).toEqual([]);
    expect(group).toMatchObject({ topic, group: 'ordered', lag: 0, pending: 0, state: 'active' });
    await expect(admin.deleteGroup(topic, 'ordered')).rejects.toMatchObject({ field: 'group' });
    await subscription.close();
    expect(await admin.deleteGroup(topic, 'ordered')).toBe(true);
    expect(await admin.describeGroups([topic])).toEqual([]);
    expect(await admin.deleteGroup(topic, 'ordered')).toBe(false);
  });
});
