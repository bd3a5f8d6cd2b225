import { Collector, ObserverLog } from '@tidings/conformance';
import { createOperator, defaultDeadLetterTopic } from '@tidings/core';
import type { BrokerAdapter, DeadLetterStore, GroupAdmin, Settlement } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { workQueueName } from '../src/index';
import { groupRegistryName } from '../src/names';
import { useBroker } from './support/fixture';

const broker = useBroker('operations');
const { exchange } = broker;

type OperableAdapter = BrokerAdapter & DeadLetterStore & GroupAdmin;

/** Publishes `count` records to `topic` and waits until `group` dead-lettered every one. */
async function deadLettered(adapter: BrokerAdapter, topic: string, group: string, count: number) {
  const observer = new ObserverLog();
  const deadLetterTopic = defaultDeadLetterTopic(topic, group);
  const failing = { value: true };
  const seen = new Collector();
  const subscription = await adapter.subscribe(
    broker.spec(group, [topic]),
    seen.handler('failed', (record): Settlement => {
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
  await adapter.publish(
    Array.from({ length: count }, (_, i) => ({
      topic,
      key: `k-${i}`,
      headers: {},
      body: Buffer.from(`r-${i}`),
    })),
  );
  await observer.until((log) => log.landed.length >= count, 20_000);
  return { subscription, seen, failing, at: { topic, group, deadLetterTopic } };
}

describe('dead-letter operations on RabbitMQ', () => {
  it('stamps each dead letter with an id in the header, and lists pages in id order whatever the queue order', async () => {
    const adapter = (await broker.adapter()) as OperableAdapter;
    const { at } = await deadLettered(adapter, 'ids', 'g', 30);
    const queue = workQueueName(exchange, 'g', at.deadLetterTopic);
    const raw = await broker.raw().createChannel();
    const first = await raw.get(queue, { noAck: false });
    expect(first !== false && first.properties.headers?.['tidings-letter-id']).toMatch(
      /^\d{13}-[0-9a-z]{6}-/,
    );
    await raw.close();
    // Several passes reorder a quorum queue; the pages do not change.
    const pages: string[][] = [];
    for (let pass = 0; pass < 3; pass++) {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await adapter.readDeadLetters(at, cursor, 7);
        ids.push(...page.letters.map((letter) => letter.id));
        cursor = page.cursor;
      } while (cursor !== undefined);
      pages.push(ids);
    }
    expect(pages[0]!.length).toBe(30);
    expect([...pages[0]!].sort()).toEqual(pages[0]);
    expect(pages[1]).toEqual(pages[0]);
    expect(pages[2]).toEqual(pages[0]);
    await expect(adapter.readDeadLetters(at, 'not-an-id', 10)).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'cursor',
    });
  });

  it('refuses to redrive to a group whose queue is gone, and keeps the letters', async () => {
    const adapter = (await broker.adapter()) as OperableAdapter;
    const { at, subscription } = await deadLettered(adapter, 'gone', 'g', 5);
    await subscription.close();
    expect(await adapter.deleteGroup('gone', 'g')).toBe(true);
    const report = await createOperator({ adapter }).redrive({ topic: 'gone', group: 'g' });
    expect(report.redriven).toBe(0);
    expect(report.refused).toHaveLength(5);
    expect(report.refused[0]!.reason).toContain('has no queue');
    expect((await adapter.readDeadLetters(at, undefined, 100)).letters).toHaveLength(5);
  });
});

describe('group administration on RabbitMQ', () => {
  it('refuses to delete a group with members, naming it, and deletes it once they left', async () => {
    const adapter = (await broker.adapter()) as OperableAdapter;
    const admin = (await broker.adapter('admin')) as OperableAdapter;
    const subscription = await adapter.subscribe(
      broker.spec('busy', ['admin-topic']),
      new Collector().handler('busy'),
    );
    await expect(admin.deleteGroup('admin-topic', 'busy')).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'group',
    });
    expect((await admin.describeGroups(['admin-topic'])).map((g) => [g.group, g.state, g.members])).toEqual([
      ['busy', 'active', 1],
    ]);
    await subscription.close();
    expect(await admin.deleteGroup('admin-topic', 'busy')).toBe(true);
    expect(await admin.describeGroups(['admin-topic'])).toEqual([]);
  });

  it('keeps one registration per group, and forgets a group whose queue was deleted behind its back', async () => {
    const registry = groupRegistryName(exchange, 'registry-topic');
    // Two processes (two adapters) register the same group; a third group's queue is deleted by hand.
    for (const role of ['one', 'two']) {
      const adapter = await broker.adapter(role);
      await adapter.subscribe(broker.spec('shared', ['registry-topic']), new Collector().handler(role));
    }
    const doomed = await broker.adapter('doomed');
    const gone = await doomed.subscribe(
      broker.spec('doomed', ['registry-topic']),
      new Collector().handler('d'),
    );
    await gone.close();
    const raw = await broker.raw().createChannel();
    expect((await raw.checkQueue(registry)).messageCount).toBe(3);
    await raw.deleteQueue(workQueueName(exchange, 'doomed', 'registry-topic'));
    const admin = (await broker.adapter('admin-2')) as OperableAdapter;
    const groups = await admin.describeGroups(['registry-topic']);
    expect(groups.map((g) => [g.group, g.members, g.lag, g.pending])).toEqual([['shared', 2, 0, undefined]]);
    expect((await raw.checkQueue(registry)).messageCount).toBe(1);
    await raw.close();
  });
});
