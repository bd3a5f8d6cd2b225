import { Collector } from '@tidings/conformance';
import { ConfigError, type OutgoingRecord, PublishError } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { ACK, spec, useTestKit } from './kit';

/** What a promise rejected with, or undefined when it resolved. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('hostile input and edge faults', () => {
  const { adapter, names, redis } = useTestKit();

  it('refuses topic names its rule refuses, on publish, subscribe and trim, and writes nothing', async () => {
    const { topic, group } = names('topic-rule');
    const a = adapter({ trim: { maxLength: 10 } });
    const admin = await redis();
    const emptyKeyBefore = await admin.type('');
    const refused = ['', `${topic}\u0001`, `${topic}\nx`, 'a'.repeat(1_025), 'é'.repeat(513)];
    for (const bad of refused) {
      const what = JSON.stringify(bad.slice(0, 30));
      const published = await failure(
        a.publish([{ topic: bad, key: undefined, headers: {}, body: Buffer.from('x') }]),
      );
      expect(published, `publish to ${what}`).toBeInstanceOf(PublishError);
      expect((published as PublishError).topic).toBe(bad);
      const subscribed = await failure(a.subscribe(spec({ group, topics: [topic, bad] }), async () => ACK));
      expect(subscribed, `subscribe to ${what}`).toBeInstanceOf(ConfigError);
      expect((subscribed as ConfigError).field).toBe('topics');
      const trimmed = await failure(a.trim(bad));
      expect(trimmed, `trim of ${what}`).toBeInstanceOf(ConfigError);
    }
    const notAString = await failure(
      a.publish([
        { topic: 42, key: undefined, headers: {}, body: Buffer.from('x') } as unknown as OutgoingRecord,
      ]),
    );
    expect(notAString).toBeInstanceOf(PublishError);
    // Nothing reached Redis: no stream under an empty or a control-character name, no group.
    expect(await admin.type('')).toBe(emptyKeyBefore);
    expect(await admin.exists(`${topic}\u0001`, `${topic}\nx`, topic)).toBe(0);
  });

  it('refuses a header value, key or body of the wrong type with a PublishError, sending nothing', async () => {
    const { topic } = names('types');
    const a = adapter();
    const bad: unknown[] = [
      { topic, key: undefined, headers: { 'x-count': 5 }, body: Buffer.from('x') },
      { topic, key: undefined, headers: { 'x-nested': { a: 1 } }, body: Buffer.from('x') },
      { topic, key: 7, headers: {}, body: Buffer.from('x') },
      { topic, key: undefined, headers: {}, body: 'text' },
      { topic, key: undefined, headers: null, body: Buffer.from('x') },
      null,
    ];
    for (const record of bad) {
      const good: OutgoingRecord = { topic, key: undefined, headers: {}, body: Buffer.from('fine') };
      const error = await failure(a.publish([good, record as OutgoingRecord]));
      expect(error, JSON.stringify(record)).toBeInstanceOf(PublishError);
    }
    const error = (await failure(
      a.publish([
        { topic, key: undefined, headers: { 'x-count': 5 as unknown as string }, body: Buffer.from('x') },
      ]),
    )) as PublishError;
    expect(error.message).toContain('"x-count" must be a string, got number');
    expect(error.topic).toBe(topic);
    // The whole batch was refused before anything was sent.
    expect(await (await redis()).exists(topic)).toBe(0);
  });

  it('reads entries of other producers: prototype names as headers, bytes that are not UTF-8, no body', async () => {
    const { topic, group } = names('foreign');
    const a = adapter();
    const collector = new Collector();
    const subscription = await a.subscribe(spec({ group, topics: [topic] }), collector.handler('only'));
    const admin = await redis();
    const notUtf8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28]);
    await admin.xadd(
      topic,
      '*',
      '$key',
      'proto',
      '__proto__',
      'p',
      'constructor',
      'c',
      'toString',
      't',
      '$body',
      'x',
    );
    await admin.xaddBuffer(
      topic,
      '*',
      '$key',
      'bytes',
      notUtf8,
      'name not utf-8',
      'h',
      notUtf8,
      '$body',
      notUtf8,
    );
    await admin.xadd(topic, '*', '$key', 'no-body', 'ce_type', 'order.placed');
    await a.publish([{ topic, key: 'after', headers: { constructor: 'mine' }, body: Buffer.from('after') }]);
    await collector.untilDistinct(4, 10_000);

    const byKey = (key: string) => collector.deliveries.find((d) => d.record.key === key)!.record;
    const proto = byKey('proto');
    expect(Object.getPrototypeOf(proto.headers)).toBeNull();
    expect(Object.entries(proto.headers)).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['toString', 't'],
    ]);
    const bytes = byKey('bytes');
    expect(bytes.headers['\uFFFD\uFFFD\uFFFD(']).toBe('name not utf-8');
    expect(bytes.headers.h).toBe('\uFFFD\uFFFD\uFFFD(');
    expect(Buffer.from(bytes.body).equals(notUtf8)).toBe(true);
    const noBody = byKey('no-body');
    expect(noBody.body.byteLength).toBe(0);
    expect(noBody.headers.constructor).toBeUndefined();
    expect(noBody.headers.ce_type).toBe('order.placed');
    expect(Object.getPrototypeOf(noBody.headers)).toBeNull();
    expect(byKey('after').headers.constructor).toBe('mine');
    expect(({} as Record<string, unknown>).p).toBeUndefined();
    expect(subscription.state).toBe('running');
    expect(subscription.lastError).toBeUndefined();
  });

  it('trims a topic that has no stream yet as a no-op, and refuses a key that is not a stream', async () => {
    const { topic } = names('trim-missing');
    const a = adapter({ trim: { maxLength: 10 } });
    expect(await a.trim(topic)).toBe(0);
    expect(await (await redis()).exists(topic)).toBe(0);
    const sharded = adapter({ trim: { maxLength: 10 }, shards: 3 });
    expect(await sharded.trim(`${topic}-sharded`)).toBe(0);

    await (await redis()).set(`${topic}-string`, 'not a stream');
    const error = await failure(a.trim(`${topic}-string`));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('is a Redis key that is not a stream');
  });

  it('keeps the keys it derives from a topic well-formed, whatever the topic holds', async () => {
    // Quotes, brackets, a backslash, a colon, spaces and non-ASCII, to the longest name allowed.
    const { topic: base, group } = names('keys');
    const odd = ` "]\\:[ü→ ${base}`;
    const topic = odd + 'x'.repeat(1_024 - Buffer.byteLength(odd));
    expect(Buffer.byteLength(topic)).toBe(1_024);
    const shortDlq = `${base}.dlq`;
    // Short blocking reads: the shards' leases are taken one after the other, each read waits for its turn.
    const a = adapter({ shards: 2, claimIdleMs: 600, blockMs: 100 });
    const dead = new Collector();
    await a.subscribe(spec({ group: `${group}-dlq`, topics: [shortDlq] }), dead.handler('dlq'));
    const collector = new Collector();
    await a.subscribe(
      spec({ group, topics: [topic], ordering: 'key' }),
      collector.handler('only', (record) =>
        record.attempt === 1
          ? { type: 'retry', delayMs: 10, headers: { 'tidings-attempt': '2' } }
          : {
              type: 'deadLetter',
              topic: shortDlq,
              reason: 'test',
              headers: { 'tidings-dlq-reason': 'test' },
            },
      ),
    );
    await a.publish([{ topic, key: 'k', headers: {}, body: Buffer.from('one') }]);
    await dead.untilDistinct(1, 10_000);
    expect(collector.deliveries.map((d) => d.record.attempt)).toEqual([1, 2]);

    const admin = await redis();
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `*${base}*`, 'COUNT', 1000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    const streams = [`${topic}:shard-0`, `${topic}:shard-1`];
    for (const key of found) {
      if (!key.startsWith('tidings:')) {
        expect([...streams, `${shortDlq}:shard-0`, `${shortDlq}:shard-1`]).toContain(key);
        continue;
      }
      // tidings:<kind>:<JSON array of the names it is about>, and those names are ours.
      const match = /^tidings:(due|retry-headers|lease|members|shards):(.*)$/s.exec(key);
      expect(match, key).not.toBeNull();
      const about = JSON.parse(match![2]!) as string[];
      expect(Array.isArray(about)).toBe(true);
      expect([topic, shortDlq, ...streams, `${shortDlq}:shard-0`, `${shortDlq}:shard-1`]).toContain(about[0]);
    }
    expect(found).toContain(`tidings:shards:${JSON.stringify([topic])}`);
  });
});
