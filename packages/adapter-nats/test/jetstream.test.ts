import { type IncomingRecord, PublishError, type Settlement } from '@tidings/core/adapter';
import type { Msg, NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';
import { createNatsAdapter, type NatsAdapter, type NatsAdapterOptions, partitionOfKey } from '../src/index';
import { streamDescription } from '../src/jetstream/stream';
import { consumerName } from '../src/subjects';
import { natsFixture } from './support/fixture';
import { deleteStream, NATS_URL, uniqueName } from './support/nats';
import { subscribeSpec } from './support/spec';
import { pause, Waiter } from './support/waiter';

const ACK: Settlement = { type: 'ack' };

// One prefix and stream for this file, deleted at the end; every test uses topics of its own.
const prefix = uniqueName('tjs');
const stream = prefix.toUpperCase();
const fx = natsFixture(async () => {
  await deleteStream(stream);
  await deleteStream(`${stream}_P`);
  await deleteStream(`${stream}_Q`);
});
const raw = (): NatsConnection => fx.raw();

function adapter(options: Partial<NatsAdapterOptions> = {}): Promise<NatsAdapter> {
  return fx.open(createNatsAdapter({ servers: NATS_URL, prefix, stream: { name: stream }, ...options }));
}

/** How many records the stream holds for a topic, over all its partitions. */
async function storedCount(topic: string): Promise<number> {
  const jsm = await raw().jetstreamManager();
  const info = await jsm.streams.info(stream, { subjects_filter: `${prefix}.${topic}.*` });
  return Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
}

const text = (record: { body: Uint8Array }): string => Buffer.from(record.body).toString();

describe('publishing', () => {
  it('drops a re-published event id within the duplicate window, per topic', async () => {
    const nats = await adapter();
    const [first, second] = [uniqueName('dup'), uniqueName('dup')];
    const seen: string[] = [];
    const waiter = new Waiter();
    const handler = async (record: IncomingRecord): Promise<Settlement> => {
      seen.push(`${record.topic}:${text(record)}`);
      waiter.notify();
      return ACK;
    };
    await nats.subscribe(subscribeSpec(first), handler);
    await nats.subscribe(subscribeSpec(second), handler);
    const event = (topic: string, body: string) => ({
      topic,
      key: 'k',
      headers: { 'ce-id': 'same-event-id' },
      body: Buffer.from(body),
    });
    await nats.publish([event(first, 'original')]);
    await nats.publish([event(first, 'repeat')]);
    // The same event on another topic is another record, not a duplicate.
    await nats.publish([event(second, 'elsewhere')]);
    await waiter.until(
      () => seen.length >= 2,
      10_000,
      () => `seen ${seen.join(', ')}`,
    );
    await pause(500);
    expect(seen.sort()).toEqual([`${first}:original`, `${second}:elsewhere`].sort());
    expect(await storedCount(first)).toBe(1);
  });

  it('writes the CloudEvents NATS binding: ce- headers percent-encoded, key and message id beside them', async () => {
    const nats = await adapter();
    const topic = uniqueName('wire');
    const received: Msg[] = [];
    const waiter = new Waiter();
    const sub = raw().subscribe(`${prefix}.${topic}.*`, {
      callback: (_error, msg) => {
        received.push(msg);
        waiter.notify();
      },
    });
    await raw().flush();
    await nats.publish([
      {
        topic,
        key: 'order 42',
        headers: { 'ce-id': 'e1', 'ce-source': '/shop eu', 'ce-subject': 'Zażółć 🚀', 'x-empty': '' },
        body: Buffer.from('{}'),
      },
    ]);
    await waiter.until(
      () => received.length === 1,
      10_000,
      () => 'the raw subscriber saw nothing',
    );
    sub.unsubscribe();
    const msg = received[0]!;
    expect(msg.subject).toBe(`${prefix}.${topic}.${partitionOfKey('order 42', 8)}`);
    const headers = msg.headers!;
    expect(headers.get('ce-id')).toBe('e1');
    expect(headers.get('ce-source')).toBe('/shop%20eu');
    expect(headers.get('ce-subject')).toBe('Za%C5%BC%C3%B3%C5%82%C4%87%20%F0%9F%9A%80');
    expect(headers.get('x-empty')).toBe('');
    expect(headers.get('tidings-key')).toBe('order%2042');
    expect(headers.get('Nats-Msg-Id')).toBe(`${topic} e1`);
  });

  it('refuses bad records with typed errors before sending any record of the batch', async () => {
    const nats = await adapter();
    const topic = uniqueName('bad');
    const good = { topic, key: undefined, headers: {}, body: Buffer.from('good') };
    await expect(nats.publish([good, { ...good, topic: 'has space' }])).rejects.toMatchObject({
      code: 'PUBLISH',
    });
    await expect(nats.publish([good, { ...good, topic: 'orders.*' }])).rejects.toMatchObject({
      code: 'PUBLISH',
    });
    await expect(nats.publish([good, { ...good, headers: { 'tidings-key': 'x' } }])).rejects.toMatchObject({
      code: 'PUBLISH',
    });
    expect(await storedCount(topic)).toBe(0);
  });

  it('refuses malformed records given to publish directly with a PublishError naming the field, before sending', async () => {
    const nats = await adapter();
    const topic = uniqueName('malformed');
    const good = { topic, key: undefined, headers: {}, body: Buffer.from('good') };
    // The kit's wording (`checkOutgoing`), the same on every adapter.
    const cases: [unknown, RegExp][] = [
      [{ ...good, headers: { 'x-count': 42 } }, /header "x-count" must be a string, got number/],
      [{ ...good, headers: { 'x-none': null } }, /header "x-none" must be a string/],
      [{ ...good, headers: { 'Nats-Expected-Stream': 7 } }, /header "Nats-Expected-Stream" must be a string/],
      [{ ...good, key: 12 }, /a record key must be a string, got number/],
      [{ ...good, body: 'text' }, /a record body must be a Uint8Array, got string/],
      [{ ...good, headers: null }, /the headers of a record must be an object, got null/],
      [{ ...good, headers: { '': 'x' } }, /a header with an empty name/],
      [{ ...good, topic: 'a'.repeat(513) }, /is 513 bytes long; the limit is 512/],
      [{ ...good, topic: 'has space' }, /is not a valid name here: dot-separated non-empty tokens/],
      [{ ...good, topic: 7 }, /a topic must be a string, got number/],
    ];
    for (const [record, message] of cases) {
      const error = await nats.publish([good, record as typeof good]).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error, String(message)).toBeInstanceOf(PublishError);
      expect((error as Error).message).toMatch(message);
    }
    expect(await storedCount(topic)).toBe(0);
    for (const topics of [['has space'], ['a'.repeat(513)], ['ok', 'star*']]) {
      await expect(
        nats.subscribe(subscribeSpec(topics[0]!, { topics }), async () => ACK),
      ).rejects.toMatchObject({
        code: 'CONFIG',
        field: 'topics',
        message: expect.stringMatching(/not a valid name here|the limit is 512/),
      });
    }
  });

  it('carries headers named like members of Object.prototype, in records without a prototype', async () => {
    const nats = await adapter();
    const topic = uniqueName('proto');
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      headers[name] = `value of ${name}`;
    }
    const seen: IncomingRecord[] = [];
    const waiter = new Waiter();
    await nats.subscribe(subscribeSpec(topic), async (record) => {
      seen.push(record);
      waiter.notify();
      return ACK;
    });
    await nats.publish([{ topic, key: 'k', headers, body: Buffer.from('{}') }]);
    await waiter.until(
      () => seen.length === 1,
      10_000,
      () => 'nothing delivered',
    );
    const received = seen[0]!.headers;
    expect(Object.getPrototypeOf(received)).toBeNull();
    expect(Object.keys(received).sort()).toEqual(Object.keys(headers).sort());
    for (const name of Object.keys(headers)) expect(received[name]).toBe(`value of ${name}`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('says clearly that an adapter must connect first, and that a closed port is a connection error', async () => {
    const idle = createNatsAdapter({ servers: NATS_URL, prefix, stream: { name: stream } });
    await expect(
      idle.publish([{ topic: 't', key: undefined, headers: {}, body: Buffer.from('x') }]),
    ).rejects.toMatchObject({ code: 'CONNECTION' });
    const nowhere = createNatsAdapter({ servers: '127.0.0.1:1', connectTimeoutMs: 2_000 });
    await expect(nowhere.connect()).rejects.toMatchObject({ code: 'CONNECTION' });
    expect(nowhere.state).toBe('failed');
    await nowhere.close();
    await expect(nowhere.connect()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('consuming', () => {
  it('sends progress acks so a handler that outlives ack_wait is not redelivered', async () => {
    const nats = await adapter({ ackWaitMs: 1_000 });
    const topic = uniqueName('slow');
    const deliveries: IncomingRecord[] = [];
    const waiter = new Waiter();
    let finished = false;
    const subscription = subscribeSpec(topic, { concurrency: 1 });
    await nats.subscribe(subscription, async (record) => {
      deliveries.push(record);
      waiter.notify();
      // Three and a half ack_waits of work.
      await pause(3_500);
      finished = true;
      waiter.notify();
      return ACK;
    });
    await nats.publish([{ topic, key: 'k', headers: {}, body: Buffer.from('slow') }]);
    await waiter.until(
      () => finished,
      15_000,
      () => 'the slow handler never finished',
    );
    // Long enough for an unacknowledged record to come back twice.
    await pause(2_500);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.attempt).toBe(1);
    const jsm = await raw().jetstreamManager();
    const info = await jsm.consumers.info(stream, consumerName(subscription.group, topic));
    expect(info.num_redelivered).toBe(0);
    expect(info.num_ack_pending).toBe(0);
  });

  /** Waits until the group's consumer has handed `count` records to members, unacknowledged. */
  async function untilAckPending(group: string, topic: string, count: number): Promise<void> {
    const jsm = await raw().jetstreamManager();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const info = await jsm.consumers.info(stream, consumerName(group, topic));
      if (info.num_ack_pending === count) return;
      if (Date.now() > deadline) throw new Error(`${info.num_ack_pending} of ${count} records pulled`);
      await pause(50);
    }
  }

  it('pulls up to the prefetch, one handler at a time, and keeps the waiting records alive past ack_wait', async () => {
    const nats = await adapter({ ackWaitMs: 1_000 });
    const topic = uniqueName('ahead');
    const subscription = subscribeSpec(topic, { concurrency: 1, prefetch: 4 });
    const deliveries: IncomingRecord[] = [];
    const waiter = new Waiter();
    let running = 0;
    let peak = 0;
    await nats.subscribe(subscription, async (record) => {
      deliveries.push(record);
      peak = Math.max(peak, ++running);
      waiter.notify();
      // The fourth record waits 2.4 s for its handler: more than two ack_waits.
      await pause(800);
      running--;
      waiter.notify();
      return ACK;
    });
    await nats.publish(
      ['a', 'b', 'c', 'd'].map((body) => ({ topic, key: body, headers: {}, body: Buffer.from(body) })),
    );
    await waiter.until(
      () => deliveries.length > 0,
      10_000,
      () => 'nothing delivered',
    );
    // All four are here while the first one is handled.
    await untilAckPending(subscription.group, topic, 4);
    await waiter.until(
      () => deliveries.length === 4 && running === 0,
      15_000,
      () => `${deliveries.length} of 4 handled`,
    );
    // Long enough for a record whose ack_wait ran out to come back.
    await pause(1_500);
    expect(peak).toBe(1);
    expect(deliveries.map(text).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(deliveries.every((record) => record.attempt === 1)).toBe(true);
    const info = await (await raw().jetstreamManager()).consumers.info(
      stream,
      consumerName(subscription.group, topic),
    );
    expect(info.num_redelivered).toBe(0);
    expect(info.num_ack_pending).toBe(0);
  });

  it('handles at close the records waiting for a handler, rather than giving them back with a delivery spent', async () => {
    const nats = await adapter();
    const topic = uniqueName('close-ahead');
    const spec = subscribeSpec(topic, { concurrency: 1, prefetch: 4 });
    const handled: IncomingRecord[] = [];
    const waiter = new Waiter();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const subscription = await nats.subscribe(spec, async (record) => {
      waiter.notify();
      await gate;
      handled.push(record);
      return ACK;
    });
    await nats.publish(
      ['a', 'b', 'c', 'd'].map((body) => ({ topic, key: body, headers: {}, body: Buffer.from(body) })),
    );
    await untilAckPending(spec.group, topic, 4);
    const closed = subscription.close();
    // Time for the close to give back what it would give back; the first handler still runs.
    await pause(300);
    release();
    await closed;
    expect(handled.map(text).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(handled.every((record) => record.attempt === 1)).toBe(true);
    const info = await (await raw().jetstreamManager()).consumers.info(
      stream,
      consumerName(spec.group, topic),
    );
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_redelivered).toBe(0);
    expect(info.num_pending).toBe(0);
  });

  it('keeps per-key order across two members of a group, with retries', async () => {
    const [a, b] = [await adapter(), await adapter()];
    const topic = uniqueName('ordered');
    const group = uniqueName('g');
    const keys = Array.from({ length: 6 }, (_, i) => `key-${i}`);
    const perKey = 30;
    const seen = new Map<string, number[]>(keys.map((key) => [key, []]));
    const busy = new Set<string>();
    let overlaps = 0;
    let distinct = 0;
    const delivered = new Set<string>();
    const waiter = new Waiter();
    const handler = async (record: IncomingRecord): Promise<Settlement> => {
      const key = record.key!;
      if (busy.has(key)) overlaps++;
      busy.add(key);
      await pause(Math.random() * 4);
      busy.delete(key);
      const seq = Number(text(record).split('#')[1]);
      seen.get(key)!.push(seq);
      // Every seventh record fails once: its key must wait for it.
      if (seq % 7 === 3 && record.attempt === 1) return { type: 'retry', delayMs: 30, headers: {} };
      if (!delivered.has(text(record))) {
        delivered.add(text(record));
        distinct++;
      }
      waiter.notify();
      return ACK;
    };
    const ordered = subscribeSpec(topic, { group, ordering: 'key', concurrency: 4 });
    await a.subscribe(ordered, handler);
    await b.subscribe(ordered, handler);
    const records = [];
    for (let seq = 0; seq < perKey; seq++) {
      for (const key of keys) records.push({ topic, key, headers: {}, body: Buffer.from(`${key}#${seq}`) });
    }
    for (let i = 0; i < records.length; i += 20) await a.publish(records.slice(i, i + 20));
    await waiter.until(
      () => distinct === records.length,
      30_000,
      () => `${distinct} of ${records.length}`,
    );
    expect(overlaps, 'two records of one key were handled at once').toBe(0);
    for (const [key, seqs] of seen) {
      expect(seqs, `order of ${key}`).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(perKey);
    }
  });

  it('refuses to give one group both orderings on a topic', async () => {
    const nats = await adapter();
    const topic = uniqueName('mixed');
    const group = uniqueName('g');
    const subscription = await nats.subscribe(
      subscribeSpec(topic, { group, ordering: 'none' }),
      async () => ACK,
    );
    await subscription.close();
    await expect(
      nats.subscribe(subscribeSpec(topic, { group, ordering: 'key' }), async () => ACK),
    ).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'ordering',
    });
  });

  it('holds records back while paused and delivers them after resume', async () => {
    const nats = await adapter();
    const topic = uniqueName('paused');
    const seen: string[] = [];
    const waiter = new Waiter();
    const subscription = await nats.subscribe(subscribeSpec(topic), async (record) => {
      seen.push(text(record));
      waiter.notify();
      return ACK;
    });
    await nats.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('before') }]);
    await waiter.until(
      () => seen.length === 1,
      10_000,
      () => 'first record not delivered',
    );
    subscription.pause();
    expect(subscription.state).toBe('paused');
    await nats.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('during') }]);
    await pause(500);
    expect(seen).toEqual(['before']);
    subscription.resume();
    await waiter.until(
      () => seen.length === 2,
      10_000,
      () => 'record published during the pause not delivered',
    );
    expect(seen).toEqual(['before', 'during']);
  });
});

describe('the stream', () => {
  it('records the partition count in the stream and refuses an adapter that disagrees', async () => {
    const name = `${stream}_P`;
    const first = await adapter({ prefix: `${prefix}p`, stream: { name }, partitions: 3 });
    const info = await (await raw().jetstreamManager()).streams.info(name);
    expect(info.config.description).toContain('(partitions: 3)');
    expect(info.config.subjects).toEqual([`${prefix}p.>`]);
    await first.close();
    await expect(adapter({ prefix: `${prefix}p`, stream: { name }, partitions: 4 })).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'partitions',
    });
    // Without an explicit count, a later adapter takes the stream's.
    await expect(adapter({ prefix: `${prefix}p`, stream: { name } })).resolves.toBeDefined();
  });

  it('gives an ordered group the records of partitions added while it was down', async () => {
    const name = `${stream}_Q`;
    const options = { prefix: `${prefix}q`, stream: { name } };
    const topic = uniqueName('grow');
    const ordered = subscribeSpec(topic, { ordering: 'key', startFrom: 'latest' });
    const before = await adapter({ ...options, partitions: 2 });
    await (await before.subscribe(ordered, async () => ACK)).close();
    await before.close();
    // An operator raises the partition count, as the docs describe.
    const jsm = await raw().jetstreamManager();
    const info = await jsm.streams.info(name);
    await jsm.streams.update(name, { ...info.config, description: streamDescription(`${prefix}q`, 4) });

    const publisher = await adapter(options);
    const records = Array.from({ length: 40 }, (_, i) => ({
      topic,
      key: `key-${i}`,
      headers: {},
      body: Buffer.from(`r${i}`),
    }));
    await publisher.publish(records);
    expect(new Set(records.map((r) => partitionOfKey(r.key, 4))).has(3)).toBe(true);

    const seen = new Set<string>();
    const waiter = new Waiter();
    const consumer = await adapter(options);
    await consumer.subscribe(ordered, async (record) => {
      seen.add(text(record));
      waiter.notify();
      return ACK;
    });
    await waiter.until(
      () => seen.size === records.length,
      10_000,
      () => `${seen.size} of ${records.length}`,
    );
  });

  it('fails to connect with a ConfigError when the stream is missing and may not be created', async () => {
    await expect(adapter({ stream: { name: `${stream}_MISSING`, create: false } })).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'stream.create',
    });
  });
});
