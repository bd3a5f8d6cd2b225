import { crc32 } from 'node:zlib';
import { Collector } from '@tidings/conformance';
import type { OutgoingRecord } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { ACK, spec, useTestKit } from './kit';
import { waitUntil } from './wait';

function keyed(topic: string, keys: number, perKey: number, label = 'r'): OutgoingRecord[] {
  const records: OutgoingRecord[] = [];
  for (let seq = 0; seq < perKey; seq++) {
    for (let k = 0; k < keys; k++) {
      records.push({ topic, key: `k${k}`, headers: {}, body: Buffer.from(`${label}:k${k}#${seq}`) });
    }
  }
  return records;
}

function expectInOrder(collector: Collector): void {
  const byKey = new Map<string, number[]>();
  for (const { record } of collector.deliveries) {
    // Bodies are `<label>:<key>#<seq>`: each label is a run of its own.
    const [run, seq] = Buffer.from(record.body).toString().split('#') as [string, string];
    byKey.set(run, [...(byKey.get(run) ?? []), Number(seq)]);
  }
  for (const [key, seqs] of byKey) expect(seqs, `order of ${key}`).toEqual([...seqs].sort((a, b) => a - b));
}

describe('a topic spread over shards', () => {
  const { adapter, names, redis } = useTestKit();

  it('puts the records of a key in one shard by CRC-32, spreads the others, and reads all shards', async () => {
    const { topic, group } = names('spread');
    const a = adapter({ shards: 4 });
    const collector = new Collector();
    await a.subscribe(spec({ group, topics: [topic] }), collector.handler('only'));
    const unkeyed = Array.from({ length: 8 }, (_, i) => ({
      topic,
      key: undefined,
      headers: {},
      body: Buffer.from(`none-${i}`),
    }));
    await a.publish([...keyed(topic, 10, 4), ...unkeyed]);
    await collector.untilDistinct(48, 10_000);
    expect(new Set(collector.deliveries.map((d) => d.record.topic))).toEqual(new Set([topic]));

    const r = await redis();
    const used = new Set<number>();
    for (let shard = 0; shard < 4; shard++) {
      for (const [, fields] of await r.xrange(`${topic}:shard-${shard}`, '-', '+')) {
        const key = fields[fields.indexOf('$key') + 1];
        if (fields.includes('$key')) expect(crc32(key!) % 4, `shard of ${key}`).toBe(shard);
        else used.add(shard);
      }
    }
    expect(used.size, 'records without a key went to one shard only').toBeGreaterThan(1);
    expect(await r.exists(topic)).toBe(0);
  });

  it("dead-letters to the shard of the record's key in the dead-letter topic", async () => {
    const { topic, group } = names('dlq-shards');
    const dlq = `${topic}.dlq`;
    const a = adapter({ shards: 3 });
    const dead = new Collector();
    await a.subscribe(spec({ group: `${group}-dlq`, topics: [dlq] }), dead.handler('dlq'));
    await a.subscribe(spec({ group, topics: [topic] }), async () => ({
      type: 'deadLetter',
      topic: dlq,
      reason: 'no',
      headers: { 'tidings-dlq-reason': 'no' },
    }));
    await a.publish(keyed(topic, 5, 1));
    await dead.untilDistinct(5, 10_000);
    const r = await redis();
    for (const { record } of dead.deliveries) {
      expect(record.topic).toBe(dlq);
      const stream = `${dlq}:shard-${crc32(record.key!) % 3}`;
      expect((await r.xrange(stream, '-', '+')).length).toBeGreaterThan(0);
    }
  });

  it('refuses an adapter whose shard count differs from the one the topic has', async () => {
    const { topic, group } = names('mismatch');
    await adapter({ shards: 4 }).publish(keyed(topic, 1, 1));
    const other = adapter({ shards: 2 });
    await expect(other.publish(keyed(topic, 1, 1))).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'shards',
    });
    await expect(other.subscribe(spec({ group, topics: [topic] }), async () => ACK)).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'shards',
    });
  });

  it('shares the shards of an ordered topic between members, and one takes all when the other leaves', async () => {
    const { topic, group } = names('ordered-shards');
    const shards = 4;
    const collector = new Collector();
    const ordered = spec({ group, topics: [topic], ordering: 'key' });
    const slow = (member: string) =>
      collector.handler(member, async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return ACK;
      });
    const first = adapter({ shards });
    await first.subscribe(ordered, slow('first'));
    const second = adapter({ shards });
    const leaving = await second.subscribe(ordered, slow('second'));

    const r = await redis();
    const holders = async () =>
      Promise.all(
        Array.from({ length: shards }, (_, shard) =>
          r.get(`tidings:lease:${JSON.stringify([`${topic}:shard-${shard}`, group])}`),
        ),
      );
    await waitUntil(
      async () => {
        const now = await holders();
        const counts = new Map<string, number>();
        for (const holder of now) if (holder !== null) counts.set(holder, (counts.get(holder) ?? 0) + 1);
        return counts.size === 2 && [...counts.values()].every((n) => n === 2);
      },
      20_000,
      'the two members hold two shards each',
    );

    await first.publish(keyed(topic, 16, 10, 'a'));
    await collector.untilDistinct(160, 20_000);
    const members = new Map<string, Set<string>>();
    for (const { record, member } of collector.deliveries) {
      members.set(record.key!, (members.get(record.key!) ?? new Set()).add(member));
    }
    expect(new Set(collector.deliveries.map((d) => d.member)), 'both members worked').toEqual(
      new Set(['first', 'second']),
    );
    for (const [key, who] of members) expect(who.size, `${key} was handled by both members`).toBe(1);
    expectInOrder(collector);

    // The second member leaves: the first takes its shards over and goes on.
    await leaving.close();
    await waitUntil(
      async () => {
        const now = await holders();
        return now.every((holder) => holder !== null && holder === now[0]);
      },
      20_000,
      'the remaining member holds every shard',
    );
    await first.publish(keyed(topic, 16, 5, 'b'));
    await collector.untilDistinct(240, 20_000);
    expect(
      collector.deliveries
        .filter((d) => Buffer.from(d.record.body).toString().startsWith('b:'))
        .map((d) => d.member),
    ).toEqual(Array(80).fill('first'));
    expectInOrder(collector);
  });
});
