import { Socket } from 'node:net';
import { Collector } from '@tidings/conformance';
import type { OutgoingRecord, Settlement } from '@tidings/core/adapter';
import { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { createRedisStreamsAdapter } from '../src';
import { AckBatcher } from '../src/acks';
import { keys } from '../src/keys';
import { BatchingProxy } from './batching-proxy';
import { ACK, spec, useTestKit } from './kit';
import { killConnections, REDIS_URL } from './redis';
import { waitUntil } from './wait';

/** A key-less record to `topic` whose body is `text`. */
function textRecord(topic: string, text: string, headers: Record<string, string>): OutgoingRecord {
  return { topic, key: undefined, headers, body: Buffer.from(text) };
}

describe('the Redis Streams adapter', () => {
  const { adapter, names, redis } = useTestKit();

  it('writes headers as fields of their own name and reads back any header name and body bytes', async () => {
    const { topic, group } = names('fields');
    const a = adapter();
    const collector = new Collector();
    await a.subscribe(spec({ group, topics: [topic] }), collector.handler('only'));
    const body = Buffer.from([0, 255, 1, 254, 0x80, 0x0d, 0x0a, 0]);
    const headers = {
      ce_type: 'order.placed',
      $body: 'not the body',
      $$x: 'two',
      __proto__: 'proto',
      '': 'empty',
    };
    await a.publish([{ topic, key: '$key', headers, body }]);
    await collector.untilDistinct(1, 10_000);
    const got = collector.deliveries[0]!.record;
    expect(Buffer.from(got.body).equals(body)).toBe(true);
    expect(got.key).toBe('$key');
    expect(Object.entries(got.headers).sort()).toEqual(Object.entries(headers).sort());

    // Other stream readers see the CloudEvents attributes under their own names.
    const [entry] = await (await redis()).xrange(topic, '-', '+');
    const fields = entry![1];
    expect(fields.slice(0, 1)).toEqual(['$body']);
    expect(fields).toContain('ce_type');
    expect(fields).toContain('$$body');
  });

  it('keeps the headers a retry adds across deliveries and puts them on the dead letter', async () => {
    const { topic, group } = names('retry-headers');
    const dlq = `${topic}.dlq`;
    const a = adapter();
    const collector = new Collector();
    const dead = new Collector();
    await a.subscribe(spec({ group: `${group}-dlq`, topics: [dlq] }), dead.handler('dlq'));
    await a.subscribe(
      spec({ group, topics: [topic] }),
      collector.handler('only', (record) =>
        record.attempt < 3
          ? {
              type: 'retry',
              delayMs: 50,
              headers: {
                'tidings-attempt': String(record.attempt + 1),
                'tidings-first-failure-at':
                  record.headers['tidings-first-failure-at'] ?? `first-${record.attempt}`,
              },
            }
          : {
              type: 'deadLetter',
              topic: dlq,
              reason: 'gave up',
              headers: { 'tidings-dlq-reason': 'gave up' },
            },
      ),
    );
    await a.publish([{ topic, key: 'k', headers: { 'x-original': 'yes' }, body: Buffer.from('retried') }]);
    await dead.untilDistinct(1, 10_000);
    expect(collector.deliveries.map((d) => d.record.attempt)).toEqual([1, 2, 3]);
    expect(collector.deliveries.map((d) => d.record.headers['tidings-first-failure-at'])).toEqual([
      undefined,
      'first-1',
      'first-1',
    ]);
    const letter = dead.deliveries[0]!.record;
    expect(letter.key).toBe('k');
    expect(letter.headers).toMatchObject({
      'x-original': 'yes',
      'tidings-first-failure-at': 'first-1',
      'tidings-dlq-reason': 'gave up',
    });
    // Settled: nothing is left pending, waiting for a retry or beside the entry.
    const r = await redis();
    expect(((await r.xpending(topic, group)) as [number])[0]).toBe(0);
    expect(await r.keys(`tidings:due:*${topic}*`)).toEqual([]);
    expect(await r.keys(`tidings:retry-headers:*${topic}*`)).toEqual([]);
  });

  it('counts a retry once, by the delivery count: no attempt header is kept beside the entry', async () => {
    const { topic, group } = names('attempts');
    const a = adapter();
    const collector = new Collector();
    let release!: () => void;
    const scheduled = new Promise<void>((resolve) => {
      release = resolve;
    });
    await a.subscribe(
      spec({ group, topics: [topic] }),
      collector.handler('only', async (record) => {
        // The third delivery waits until the test has looked at what the second retry stored.
        if (record.attempt === 7) await scheduled;
        return record.attempt < 8
          ? {
              type: 'retry',
              delayMs: 50,
              headers: { 'tidings-attempt': String(record.attempt + 1), 'tidings-first-failure-at': 'first' },
            }
          : ACK;
      }),
    );
    // Re-published with its count (a redriven record, say): the header is where counting starts.
    await a.publish([{ topic, key: 'k', headers: { 'tidings-attempt': '6' }, body: Buffer.from('x') }]);
    await collector.until(
      () => collector.deliveries.length >= 2,
      10_000,
      () => `${collector.deliveries.length} of 2 deliveries`,
    );
    const stored = await (await redis()).hvals(keys.retryHeaders(topic, group));
    expect(stored.map((json) => JSON.parse(json) as unknown)).toEqual([
      { 'tidings-first-failure-at': 'first' },
    ]);
    release();
    await collector.until(
      () => collector.deliveries.length >= 3,
      10_000,
      () => `${collector.deliveries.length} of 3 deliveries`,
    );
    expect(collector.deliveries.map((d) => d.record.attempt)).toEqual([6, 7, 8]);
    expect(collector.deliveries[2]!.record.headers['tidings-attempt']).toBe('6');
  });

  it('delivers a record again at once when the handler rejects or resolves with no settlement', async () => {
    const { topic, group } = names('retry-now');
    const a = adapter();
    const seen: number[] = [];
    const done = new Promise<void>((resolve) => {
      void a.subscribe(spec({ group, topics: [topic] }), async (record) => {
        seen.push(record.attempt);
        if (record.attempt === 1) throw new Error('the core broke its promise');
        if (record.attempt === 2) return undefined as unknown as Settlement;
        resolve();
        return ACK;
      });
    });
    await a.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('again') }]);
    await done;
    expect(seen).toEqual([1, 2, 3]);
    // Nothing was stored for these retries: no delay, no headers.
    expect(await (await redis()).hlen(keys.retryHeaders(topic, group))).toBe(0);
  });

  it('leaves a record pending when its dead letter cannot be written', async () => {
    const { topic, group } = names('dlq-fails');
    const notAStream = `${topic}.string`;
    await (await redis()).set(notAStream, 'x');
    const a = adapter();
    const collector = new Collector();
    const subscription = await a.subscribe(
      spec({ group, topics: [topic] }),
      collector.handler('only', () => ({
        type: 'deadLetter',
        topic: notAStream,
        reason: 'bad',
        headers: {},
      })),
    );
    await a.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('stuck') }]);
    await collector.untilDistinct(1, 10_000);
    await waitUntil(() => subscription.lastError !== undefined, 10_000, 'the failure was reported');
    expect(subscription.lastError?.message).toMatch(/WRONGTYPE/);
    expect(((await (await redis()).xpending(topic, group)) as [number])[0]).toBe(1);
  });

  it('rejects a batch naming the record Redis refused, having stored the others', async () => {
    const { topic } = names('partial');
    const notAStream = `${topic}.string`;
    await (await redis()).set(notAStream, 'x');
    const a = adapter();
    const record = (to: string, text: string) => textRecord(to, text, {});
    await expect(
      a.publish([record(topic, 'first'), record(notAStream, 'refused'), record(topic, 'third')]),
    ).rejects.toMatchObject({ code: 'PUBLISH', topic: notAStream });
    expect(await (await redis()).xlen(topic)).toBe(2);
  });

  it('sends publishes made together in one socket write, each with its own outcome', async () => {
    const { topic } = names('together');
    const notAStream = `${topic}.string`;
    await (await redis()).set(notAStream, 'x');
    const a = adapter();
    const record = (to: string, text: string) => textRecord(to, text, { ce_type: 'together' });
    // Connected, and both topics' shard counts checked: what follows is the XADDs alone.
    await a.publish([record(topic, 'warm')]);
    await expect(a.publish([record(notAStream, 'warm')])).rejects.toMatchObject({ code: 'PUBLISH' });
    const writes = [vi.spyOn(Socket.prototype, '_write'), vi.spyOn(Socket.prototype, '_writev')];
    try {
      const outcomes = await Promise.allSettled([
        a.publish([record(topic, 'first')]),
        a.publish([record(notAStream, 'refused')]),
        a.publish([record(topic, 'third')]),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({
        code: 'PUBLISH',
        topic: notAStream,
      });
      expect(writes.reduce((calls, spy) => calls + spy.mock.calls.length, 0)).toBe(1);
    } finally {
      for (const spy of writes) spy.mockRestore();
    }
    const stored = await (await redis()).xrange(topic, '-', '+');
    expect(stored.map(([, fields]) => fields[1])).toEqual(['warm', 'first', 'third']);
  });

  it('frees an unordered handler slot before its XACK is answered, and waits for the ack on close', async () => {
    const { topic, group } = names('ack-after-slot');
    const a = adapter();
    const collector = new Collector();
    // The first acknowledgement is held back until the test lets it go; the others pass.
    let letGo!: () => void;
    const held = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    const ack = AckBatcher.prototype.ack;
    const spy = vi.spyOn(AckBatcher.prototype, 'ack').mockImplementation(function (
      this: AckBatcher,
      ...args
    ) {
      const sent = ack.apply(this, args);
      return spy.mock.calls.length === 1 ? held.then(() => sent) : sent;
    });
    try {
      const subscription = await a.subscribe(
        spec({ group, topics: [topic], concurrency: 1 }),
        collector.handler('only'),
      );
      const record = (text: string) => ({ topic, key: undefined, headers: {}, body: Buffer.from(text) });
      await a.publish([record('first')]);
      await collector.untilDistinct(1, 10_000);
      // One slot, and the first ack unanswered: the second record is handled all the same.
      await a.publish([record('second')]);
      await collector.untilDistinct(2, 10_000);
      let closed = false;
      const closing = subscription.close().then(() => {
        closed = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(closed).toBe(false);
      letGo();
      await closing;
      expect(((await (await redis()).xpending(topic, group)) as [number])[0]).toBe(0);
      expect(collector.deliveries.map((d) => d.record.attempt)).toEqual([1, 1]);
    } finally {
      letGo();
      spy.mockRestore();
    }
  });

  it("sends a batch's acks with the reader's next read, on the reader's connection", async () => {
    const { topic, group } = names('ack-with-read');
    const a = adapter();
    const collector = new Collector();
    const acks: string[] = [];
    const send = Redis.prototype.sendCommand;
    const spy = vi.spyOn(Redis.prototype, 'sendCommand').mockImplementation(function (this: Redis, ...args) {
      if (args[0].name === 'xack') acks.push(String(this.options.connectionName));
      return send.apply(this, args);
    });
    try {
      await a.subscribe(spec({ group, topics: [topic], concurrency: 4 }), collector.handler('only'));
      await a.publish(
        ['a', 'b', 'c', 'd'].map((text) => ({ topic, key: undefined, headers: {}, body: Buffer.from(text) })),
      );
      await collector.untilDistinct(4, 10_000);
      await waitUntil(
        async () => ((await (await redis()).xpending(topic, group)) as [number])[0] === 0,
        10_000,
        'the batch was acknowledged',
      );
    } finally {
      spy.mockRestore();
    }
    // Without a read to ride with (a handler finishing late), an ack goes on the command connection.
    expect(acks[0]).toBe(`${a.connectionName}:read-1`);
  });

  it('refuses an oversize body before sending anything', async () => {
    const { topic } = names('oversize');
    const a = adapter({ maxMessageBytes: 10 });
    expect(a.capabilities.maxMessageBytes).toBe(10);
    await expect(
      a.publish([
        { topic, key: undefined, headers: {}, body: Buffer.from('fine') },
        { topic, key: undefined, headers: {}, body: Buffer.alloc(11) },
      ]),
    ).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE', size: 11, limit: 10 });
    expect(await (await redis()).exists(topic)).toBe(0);
  });

  it('hands entries fetched while paused back to the group at once when it closes, attempt unchanged', async () => {
    const { topic, group } = names('release');
    const first = adapter();
    const subscription = await first.subscribe(spec({ group, topics: [topic] }), async () => ACK);
    subscription.pause();
    expect(subscription.state).toBe('paused');
    await first.publish(
      [0, 1, 2].map((i) => ({ topic, key: undefined, headers: {}, body: Buffer.from(`parked-${i}`) })),
    );
    // The read that was blocked when the pause came takes them: they are this member's now.
    const r = await redis();
    await waitUntil(
      async () => ((await r.xpending(topic, group)) as [number])[0] === 3,
      10_000,
      'they were read',
    );
    await subscription.close();

    // A member that would wait a minute before claiming idle entries gets them at once.
    const collector = new Collector();
    await adapter({ claimIdleMs: 60_000 }).subscribe(
      spec({ group, topics: [topic] }),
      collector.handler('next'),
    );
    await collector.untilDistinct(3, 10_000);
    expect(collector.deliveries.map((d) => d.record.attempt)).toEqual([1, 1, 1]);
  });

  it('brings many retries back on time, each no sooner than asked and within the tolerance', async () => {
    const { topic, group } = names('many-retries');
    const a = adapter();
    const settledAt = new Map<string, number>();
    const waited: { text: string; ms: number; delay: number }[] = [];
    const collector = new Collector();
    await a.subscribe(
      spec({ group, topics: [topic], concurrency: 4 }),
      collector.handler('only', (record, delivery) => {
        const text = Buffer.from(record.body).toString();
        const delay = Number(text.split('-')[0]);
        if (record.attempt === 1) {
          settledAt.set(text, delivery.at);
          return { type: 'retry', delayMs: delay, headers: {} };
        }
        waited.push({ text, ms: delivery.at - settledAt.get(text)!, delay });
        return ACK;
      }),
    );
    const delays = [100, 300, 600];
    await a.publish(
      Array.from({ length: 30 }, (_, i) => ({
        topic,
        key: undefined,
        headers: {},
        body: Buffer.from(`${delays[i % 3]}-${i}`),
      })),
    );
    // The collector wakes on deliveries, before the handler sorts them: count deliveries.
    await collector.until(
      () => collector.deliveries.length >= 60,
      20_000,
      () => `${collector.deliveries.length - 30} of 30 retries came back`,
    );
    expect(waited).toHaveLength(30);
    for (const { text, ms, delay } of waited) {
      expect(ms, `${text} came back early`).toBeGreaterThanOrEqual(delay - 20);
      expect(ms, `${text} came back late`).toBeLessThanOrEqual(delay + a.capabilities.delayToleranceMs);
    }
  });

  it('brings back a retry that is claimed before its first delivery has finished settling', async () => {
    // Replies that arrive together (a busy process reads its socket late; a network batches them)
    // can bring back a retry, claimed by the look for due retries sent just after it was stored,
    // before the member has finished settling its first delivery. The retry must come back now,
    // not after claimIdleMs, when recovery finds the entry pending and held by nobody.
    const proxy = await BatchingProxy.start(REDIS_URL, 40);
    const { topic, group } = names('claimed-while-settling');
    const a = adapter({ connection: proxy.url, retryPollIntervalMs: 10, claimIdleMs: 30_000 });
    const collector = new Collector();
    // Small batches, each waited for, so that the subscription has room to look for due retries.
    const batches = 40;
    const perBatch = 8;
    try {
      await a.subscribe(
        spec({ group, topics: [topic], concurrency: 16 }),
        collector.handler('only', (record) =>
          record.attempt === 1 ? { type: 'retry', delayMs: 0, headers: {} } : ACK,
        ),
      );
      const deadline = Date.now() + 20_000;
      for (let batch = 1; batch <= batches; batch++) {
        await a.publish(
          Array.from({ length: perBatch }, (_, i) => ({
            topic,
            key: undefined,
            headers: {},
            body: Buffer.from(`${batch}-${i}`),
          })),
        );
        await collector.until(
          () => collector.deliveries.length >= 2 * perBatch * batch,
          Math.max(1, deadline - Date.now()),
          () =>
            `batch ${batch}: ${collector.deliveries.length - perBatch * batch} of ${perBatch * batch} retries came back`,
        );
      }
    } finally {
      await a.close({ signal: AbortSignal.timeout(2_000) });
      await proxy.close();
    }
    expect(collector.deliveries.filter((d) => d.record.attempt === 2)).toHaveLength(batches * perBatch);
  });

  it('brings a retry back on another member when the member that scheduled it has left, not early', async () => {
    const { topic, group } = names('orphan-retry');
    const delayMs = 1_500;
    const leaving = adapter();
    const scheduled = new Collector();
    const subscription = await leaving.subscribe(
      spec({ group, topics: [topic] }),
      scheduled.handler('leaving', (record) => ({
        type: 'retry',
        delayMs,
        headers: { 'tidings-attempt': String(record.attempt + 1) },
      })),
    );
    const staying = new Collector();
    const stayingAdapter = adapter();
    await leaving.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('orphan') }]);
    await scheduled.untilDistinct(1, 10_000);
    await subscription.close();
    const settledAt = performance.now();
    await stayingAdapter.subscribe(spec({ group, topics: [topic] }), staying.handler('staying'));
    await staying.untilDistinct(1, 10_000);
    const waited = staying.deliveries[0]!.at - settledAt;
    expect(waited).toBeGreaterThanOrEqual(delayMs - 20);
    expect(waited).toBeLessThanOrEqual(delayMs + stayingAdapter.capabilities.delayToleranceMs);
    expect(staying.deliveries[0]!.record.attempt).toBe(2);
  });

  it('keeps an entry whose handler outlasts the idle limit from being claimed by another member', async () => {
    const { topic, group } = names('fresh');
    const options = { claimIdleMs: 300 };
    const busy = new Collector();
    let finished = false;
    const busyAdapter = adapter(options);
    await busyAdapter.subscribe(
      spec({ group, topics: [topic] }),
      busy.handler('busy', async () => {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        finished = true;
        return ACK;
      }),
    );
    await busyAdapter.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('long') }]);
    await busy.untilDistinct(1, 10_000);
    // A second member joins while the handler runs; its recovery looks for idle entries at once.
    const other = new Collector();
    await adapter(options).subscribe(spec({ group, topics: [topic] }), other.handler('other'));
    await waitUntil(() => finished, 10_000, 'the long handler finished');
    expect(other.deliveries, 'the entry was claimed while its handler ran').toEqual([]);
    expect(busy.deliveries).toHaveLength(1);
  });

  it('after a reconnection, takes up at once the entries of a read whose reply was lost', async () => {
    const { topic, group } = names('lost-reply');
    // Recovery by idle time would take a minute: only the check after reconnecting can be quick.
    const a = adapter({ claimIdleMs: 60_000 });
    const collector = new Collector();
    const subscription = await a.subscribe(spec({ group, topics: [topic] }), collector.handler('only'));
    await a.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('seen') }]);
    await collector.untilDistinct(1, 10_000);
    // Stand in for a read whose reply the network lost: entries delivered to the member's
    // consumer that it never received.
    const r = await redis();
    const consumers = (await r.xinfo('CONSUMERS', topic, group)) as unknown[][];
    const consumer = String(consumers[0]![1]);
    await r.xadd(topic, '*', '$body', 'lost-1');
    await r.xadd(topic, '*', '$body', 'lost-2');
    await r.xreadgroup('GROUP', group, consumer, 'COUNT', 10, 'STREAMS', topic, '>');
    await killConnections(a.connectionName);
    await collector.untilDistinct(3, 10_000);
    expect(collector.ofBody('lost-1')[0]!.record.attempt).toBe(1);
    await waitUntil(() => subscription.state === 'running', 10_000, 'the subscription runs again');
  });

  it("finds a dead member's entry behind many entries that wait for a retry", async () => {
    const { topic, group } = names('behind-retries');
    const r = await redis();
    await r.xgroup('CREATE', topic, group, '$', 'MKSTREAM');
    for (let i = 0; i < 150; i++) await r.xadd(topic, '*', '$body', `waiting-${i}`);
    await r.xadd(topic, '*', '$body', 'orphan');
    // A member that died: it read everything, scheduled retries for all but the last, far ahead.
    const read = (await r.xreadgroup('GROUP', group, 'dead', 'COUNT', 1000, 'STREAMS', topic, '>')) as [
      string,
      [string, string[]][],
    ][];
    const ids = read[0]![1].map(([id]) => id);
    const due = `tidings:due:${JSON.stringify([topic, group])}`;
    await r.zadd(due, ...ids.slice(0, 150).flatMap((id) => [Date.now() + 3_600_000, id]));

    const collector = new Collector();
    await adapter({ claimIdleMs: 200 }).subscribe(
      spec({ group, topics: [topic], concurrency: 4 }),
      collector.handler('b'),
    );
    await collector.untilDistinct(1, 10_000);
    expect(collector.deliveries.map((d) => Buffer.from(d.record.body).toString())).toEqual(['orphan']);
    expect(await r.zcard(due)).toBe(150);
  });

  it('keeps reading with a command timeout shorter than a blocking read', async () => {
    const { topic, group } = names('command-timeout');
    const a = adapter({
      connection: { host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379), commandTimeout: 100 },
      blockMs: 300,
    });
    const collector = new Collector();
    const subscription = await a.subscribe(spec({ group, topics: [topic] }), collector.handler('only'));
    // Several reads block longer than the command timeout meanwhile; none may fail.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await a.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('late') }]);
    await collector.untilDistinct(1, 10_000);
    expect(subscription.lastError).toBeUndefined();
  });

  it('closes with an aborted signal even when every slot is taken by a handler that never ends', async () => {
    const { topic, group } = names('stuck');
    const a = adapter();
    const collector = new Collector();
    const subscription = await a.subscribe(
      spec({ group, topics: [topic], concurrency: 1 }),
      collector.handler('stuck', () => new Promise<Settlement>(() => undefined)),
    );
    await a.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('stuck') }]);
    await collector.untilDistinct(1, 10_000);
    const started = performance.now();
    await subscription.close({ signal: AbortSignal.timeout(200) });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(subscription.state).toBe('closed');
  });

  it('reports a server that does not answer as a ConnectionError within the connect timeout', async () => {
    const a = createRedisStreamsAdapter({ connection: 'redis://127.0.0.1:1', connectTimeoutMs: 1_000 });
    await expect(a.connect()).rejects.toMatchObject({ code: 'CONNECTION' });
    expect(a.state).toBe('failed');
    await a.close();
    await expect(a.connect()).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('leaves no connection behind when closed while connecting and subscribing', async () => {
    const { topic, group } = names('close-early');
    const a = adapter();
    const subscribing = a.subscribe(spec({ group, topics: [topic] }), async () => ACK);
    const closing = a.close();
    await expect(subscribing).rejects.toMatchObject({ code: 'CLOSED' });
    await closing;
    expect(a.state).toBe('closed');
    const list = String(await (await redis()).client('LIST'));
    expect(list).not.toContain(a.connectionName);

    // Connected already: the close comes while the subscription creates its group and reader.
    const b = adapter();
    await b.connect();
    const starting = b.subscribe(spec({ group, topics: [topic] }), async () => ACK);
    // Watched before the close: the subscribe may be refused while the close is awaited.
    const refused = expect(starting).rejects.toMatchObject({ code: 'CLOSED' });
    await b.close();
    await refused;
    expect(String(await (await redis()).client('LIST'))).not.toContain(b.connectionName);
  });

  it('names its connections so that they can be found in CLIENT LIST', async () => {
    const { topic, group } = names('names');
    const a = adapter({ clientName: 'orders-api' });
    await a.subscribe(spec({ group, topics: [topic] }), async () => ACK);
    const list = String(await (await redis()).client('LIST'));
    expect(a.connectionName).toMatch(/^orders-api:[0-9a-f]{8}$/);
    expect(list).toContain(`name=${a.connectionName}:cmd `);
    expect(list).toContain(`name=${a.connectionName}:read-1 `);
    await a.close();
    const after = String(await (await redis()).client('LIST'));
    expect(after).not.toContain(a.connectionName);
  });
});
