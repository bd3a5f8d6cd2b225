import { bodyText, Collector, ObserverLog, quietPeriod } from '@tidings/conformance';
import { ConfigError, createOperator, defaultDeadLetterTopic } from '@tidings/core';
import type { IncomingRecord, Settlement, SubscribeSpec } from '@tidings/core/adapter';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { defaultRetryTopicName } from '../src';
import type { KafkaAdapter } from '../src/adapter';
import { BROKERS, subscribeSpec, testRecords, useKafka } from './helpers';

// What the conformance scenarios do not reach: the refusals, replay without members, and a redrive
// transaction a killed process left open.
const kafka = useKafka('op');

/** A group on `topic` that dead-letters every record while `failing` is set; resolves once `count` landed. */
async function deadLettered(
  adapter: KafkaAdapter,
  topic: string,
  group: string,
  count: number,
  spec: Partial<SubscribeSpec> = {},
) {
  const failing = { value: true };
  const seen = new Collector();
  const observer = new ObserverLog();
  const deadLetterTopic = defaultDeadLetterTopic(topic, group);
  await adapter.subscribe(
    subscribeSpec(group, topic, { ordering: 'none', ...spec }),
    seen.handler('failed', (record: IncomingRecord): Settlement => {
      if (!failing.value) return { type: 'ack' };
      return {
        type: 'deadLetter',
        topic: deadLetterTopic,
        reason: 'Error: broken',
        headers: { 'tidings-dlq-reason': 'Error: broken', 'tidings-dlq-original-position': record.position },
      };
    }),
    observer,
  );
  await adapter.publish(testRecords(topic, 'r', count, 7));
  await observer.until((log) => log.landed.length >= count, 30_000);
  return { failing, seen, at: { topic, group, deadLetterTopic } };
}

describe('kafka dead-letter operations', () => {
  it('aborts the redrive transaction a killed process left open, and delivers each letter once', async () => {
    const { topic, group } = kafka.names('open-tx');
    const adapter = await kafka.adapter();
    const count = 20;
    const { failing, seen, at } = await deadLettered(adapter, topic, group, count);
    failing.value = false;
    const page = await adapter.readDeadLetters(at, undefined, 100);
    expect(page.letters.length).toBe(count);
    // A redrive process killed inside its transaction: its copy and its ledger entry are written,
    // the transaction is never committed, under the transactional id every redrive of the store uses.
    const raw = new Kafka({ clientId: 'tidings-test-killed', brokers: BROKERS, logLevel: logLevel.NOTHING });
    const killed = raw.producer({
      transactionalId: `tidings-redrive.${at.deadLetterTopic}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await killed.connect();
    const transaction = await killed.transaction();
    const letter = page.letters[0]!;
    await transaction.send({
      topic: defaultRetryTopicName(topic, group, 0),
      messages: [
        { key: letter.key ?? null, value: Buffer.from(letter.body), headers: { 'x-copy': 'hanging' } },
      ],
    });
    await transaction.send({
      topic: `${at.deadLetterTopic}.removed`,
      messages: [{ key: letter.id, value: 'removed' }],
    });
    const before = seen.deliveries.length;
    const report = await createOperator({ adapter }).redrive({ topic, group }, { ratePerSecond: 10_000 });
    expect(report).toMatchObject({ redriven: count, missing: 0, refused: [] });
    await seen.until(
      () => new Set(seen.deliveries.slice(before).map((d) => bodyText(d.record))).size >= count,
      30_000,
      () => `${seen.deliveries.length - before} of ${count} delivered`,
    );
    await quietPeriod(500);
    const again = seen.deliveries.slice(before);
    expect(again.length).toBe(count);
    expect(again.some((d) => d.record.headers['x-copy'] === 'hanging')).toBe(false);
    expect((await adapter.readDeadLetters(at, undefined, 100)).letters).toEqual([]);
    await killed.disconnect().catch(() => undefined);
  }, 60_000);

  it('redrives the letters of an ordered group to it alone, in key order, at attempt 1', async () => {
    const { topic, group } = kafka.names('ordered');
    const adapter = await kafka.adapter();
    const other = new Collector();
    await adapter.subscribe(subscribeSpec(`${group}-other`, topic), other.handler('other'));
    const count = 30;
    const { failing, seen, at } = await deadLettered(adapter, topic, group, count, { ordering: 'key' });
    await other.untilDistinct(count, 30_000);
    failing.value = false;
    const ids = (await adapter.readDeadLetters(at, undefined, 100)).letters.map((l) => l.id);
    expect(ids.length).toBe(count);

    // A group that never read the topic: every other group would skip the copy, so it is refused.
    const stranger = await adapter.redriveDeadLetters({ ...at, group: `${group}-none` }, ids.slice(0, 2));
    expect(stranger.map((o) => o.status)).toEqual(['refused', 'refused']);
    expect(stranger[0]).toMatchObject({ reason: expect.stringMatching(/no committed offsets/) });
    expect((await adapter.readDeadLetters(at, undefined, 100)).letters.length).toBe(count);

    const before = seen.deliveries.length;
    const otherBefore = other.deliveries.length;
    const report = await createOperator({ adapter }).redrive({ topic, group }, { ratePerSecond: 10_000 });
    expect(report).toMatchObject({ redriven: count, missing: 0, refused: [] });
    await seen.until(
      () => new Set(seen.deliveries.slice(before).map((d) => bodyText(d.record))).size >= count,
      30_000,
      () => `${seen.deliveries.length - before} of ${count} redriven letters handled`,
    );
    // Records published after the redrive, on every key: the other group reaches them only past
    // the redriven copies on their partitions, which it must have skipped.
    await adapter.publish(testRecords(topic, 'fresh', 7, 7));
    await other.until(
      () => other.deliveries.length - otherBefore >= 7,
      30_000,
      () => `${other.deliveries.length - otherBefore} of 7 fresh records`,
    );
    await seen.until(
      () => seen.deliveries.slice(before).filter((d) => bodyText(d.record).startsWith('fresh')).length >= 7,
      30_000,
      () => 'the failed group handles the fresh records',
    );
    const redriven = seen.deliveries.slice(before).filter((d) => bodyText(d.record).startsWith('r-'));
    expect(redriven.length).toBe(count);
    expect(redriven.every((d) => d.record.attempt === 1)).toBe(true);
    expect(redriven.every((d) => d.record.headers['tidings-redrive-group'] === undefined)).toBe(true);
    expect(redriven.every((d) => d.record.headers['tidings-dlq-reason'] === undefined)).toBe(true);
    expect(redriven.every((d) => d.record.position.startsWith(`${topic}/`))).toBe(true);
    // Per key, the failed group handles the redriven records in publish order.
    const byKey = new Map<string, number[]>();
    for (const d of redriven) {
      const index = Number(bodyText(d.record).slice(2));
      byKey.set(d.record.key!, [...(byKey.get(d.record.key!) ?? []), index]);
    }
    expect(byKey.size).toBe(7);
    for (const indexes of byKey.values()) expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    // The other group's handler saw none of the copies: only the fresh records.
    expect(other.deliveries.slice(otherBefore).map((d) => bodyText(d.record).split('-')[0])).toEqual(
      Array(7).fill('fresh'),
    );
    expect((await adapter.readDeadLetters(at, undefined, 100)).letters).toEqual([]);
  }, 60_000);

  it('redrives an unordered group to the original topic too when the adapter has no retry topics', async () => {
    const { topic, group } = kafka.names('no-retry');
    const adapter = await kafka.adapter({ retryTopics: false });
    const other = new Collector();
    await adapter.subscribe(
      subscribeSpec(`${group}-other`, topic, { ordering: 'none' }),
      other.handler('other'),
    );
    const count = 10;
    const { failing, seen, at } = await deadLettered(adapter, topic, group, count);
    await other.untilDistinct(count, 30_000);
    failing.value = false;
    const before = seen.deliveries.length;
    const otherBefore = other.deliveries.length;
    const report = await createOperator({ adapter }).redrive({ topic, group }, { ratePerSecond: 10_000 });
    expect(report).toMatchObject({ redriven: count, missing: 0, refused: [] });
    await adapter.publish(testRecords(topic, 'fresh', 7, 7));
    await seen.until(
      () => seen.deliveries.length - before >= count + 7,
      30_000,
      () => `${seen.deliveries.length - before} of ${count + 7} handled`,
    );
    await other.until(
      () => other.deliveries.length - otherBefore >= 7,
      30_000,
      () => `${other.deliveries.length - otherBefore} of 7 fresh records`,
    );
    await quietPeriod(500);
    const redriven = seen.deliveries.slice(before).filter((d) => bodyText(d.record).startsWith('r-'));
    expect(new Set(redriven.map((d) => bodyText(d.record))).size).toBe(count);
    expect(redriven.length).toBe(count);
    expect(redriven.every((d) => d.record.attempt === 1 && d.record.position.startsWith(`${topic}/`))).toBe(
      true,
    );
    expect(other.deliveries.length - otherBefore).toBe(7);
    expect((await adapter.readDeadLetters(at, undefined, 100)).letters).toEqual([]);
  }, 60_000);

  it('reads a page from any id as a cursor, and refuses one that is not an id', async () => {
    const { topic, group } = kafka.names('cursor');
    const adapter = await kafka.adapter();
    const { at } = await deadLettered(adapter, topic, group, 12);
    const all = (await adapter.readDeadLetters(at, undefined, 100)).letters.map((l) => l.id);
    expect(all.length).toBe(12);
    expect(await adapter.deleteDeadLetters(at, [all[3]!, all[3]!, 'nonsense', '99:0'])).toBe(1);
    // The removed letter's id still reads on after it.
    const after = await adapter.readDeadLetters(at, all[3], 100);
    expect(after.letters.map((l) => l.id)).toEqual(all.slice(4));
    expect(after.cursor).toBeUndefined();
    await expect(adapter.readDeadLetters(at, 'x', 10)).rejects.toMatchObject({ field: 'cursor' });
    const missing = { ...at, deadLetterTopic: `${at.deadLetterTopic}-none` };
    expect(await adapter.readDeadLetters(missing, undefined, 10)).toEqual({ letters: [], cursor: undefined });
  }, 60_000);
});

describe('kafka replay', () => {
  it('moves a group without members by committing as no member, from a time or a position', async () => {
    const { topic, group } = kafka.names('idle');
    const adapter = await kafka.adapter();
    const seen = new Collector();
    const first = await adapter.subscribe(subscribeSpec(group, topic), seen.handler('a'));
    await adapter.publish(testRecords(topic, 'r', 30, 30));
    await seen.untilDistinct(30, 30_000);
    await first.close();
    await adapter.replayHistory(topic, group, { time: new Date(0) });
    const again = new Collector();
    const second = await adapter.subscribe(subscribeSpec(group, topic), again.handler('b'));
    await again.untilDistinct(30, 30_000);
    await second.close();
    // One position names one partition: only that partition is read again, from that offset.
    const position = again.deliveries.map((d) => d.record.position).find((p) => p.endsWith('@1'))!;
    await adapter.replayHistory(topic, group, { position });
    const third = new Collector();
    await adapter.subscribe(subscribeSpec(group, topic), third.handler('c'));
    const partition = position.slice(0, position.lastIndexOf('@'));
    const expected = again.deliveries.filter((d) => {
      const p = d.record.position;
      return p.startsWith(`${partition}@`) && Number(p.slice(p.lastIndexOf('@') + 1)) >= 1;
    }).length;
    await third.until(
      () => third.deliveries.length >= expected,
      30_000,
      () => `${third.deliveries.length} of ${expected}`,
    );
    await quietPeriod(500);
    expect(third.deliveries.length).toBe(expected);
  }, 60_000);

  it('moves its own members while they are busy and held back, and every record comes again', async () => {
    const { topic, group } = kafka.names('busy-self');
    // Few buffered records: partitions are paused in kafkajs for backpressure when the replay comes.
    const adapter = await kafka.adapter({ consumer: { maxBufferedRecords: 4 } });
    const seen = new Collector();
    const slow = async (): Promise<Settlement> => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { type: 'ack' };
    };
    await adapter.subscribe(subscribeSpec(group, topic, { concurrency: 2 }), seen.handler('a', slow));
    const count = 60;
    await adapter.publish(testRecords(topic, 'r', count, 9));
    await seen.until(
      () => seen.deliveries.length >= 10,
      30_000,
      () => `${seen.deliveries.length} delivered`,
    );
    // Counted from before the call: the members take their records again as soon as they are
    // moved, which can be before replayHistory resolves (it then waits for the commit).
    const from = seen.deliveries.length;
    await adapter.replayHistory(topic, group, { time: new Date(0) });
    const again = () => new Set(seen.deliveries.slice(from).map((d) => bodyText(d.record))).size;
    await seen.until(
      () => again() >= count,
      30_000,
      () => `${again()} of ${count} delivered again`,
    );
    expect(again()).toBe(count);
  }, 60_000);

  it('refuses while a member is in another process, for an unknown group, and for a foreign position', async () => {
    const { topic, group } = kafka.names('busy');
    const member = await kafka.adapter();
    const operator = await kafka.adapter();
    const seen = new Collector();
    await member.subscribe(subscribeSpec(group, topic), seen.handler('a'));
    await member.publish(testRecords(topic, 'r', 5, 5));
    await seen.untilDistinct(5, 30_000);
    const refusal = await operator
      .replayHistory(topic, group, { time: new Date(0) })
      .catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ConfigError);
    expect(refusal).toMatchObject({ field: 'group' });
    expect(String((refusal as Error).message)).toMatch(/other processes/);
    await expect(operator.replayHistory(topic, `${group}-none`, { time: new Date(0) })).rejects.toMatchObject(
      {
        field: 'group',
      },
    );
    await expect(member.replayHistory(topic, group, { position: 'elsewhere/0@0' })).rejects.toMatchObject({
      field: 'from.position',
    });
    // Nor may its group be deleted while it has members.
    await expect(operator.deleteGroup(topic, group)).rejects.toMatchObject({ field: 'group' });
  }, 60_000);
});
