import { createHash } from 'node:crypto';
import { Collector, deferred, ObserverLog, quietPeriod } from '@tidings/conformance';
import { ConfigError, type IncomingRecord, type Settlement } from '@tidings/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '../src';
import { ACK, spec, useTestKit } from './kit';
import { PrivateRedis } from './private-server';

function deadLetterTo(topic: string) {
  return (record: IncomingRecord): Settlement => ({
    type: 'deadLetter',
    topic,
    reason: 'NonRetryableError: poison',
    headers: {
      'tidings-dlq-reason': 'NonRetryableError: poison',
      'tidings-dlq-attempts': String(record.attempt),
    },
  });
}

describe('dead letters', () => {
  const { adapter, names, redis } = useTestKit();

  it('land whole when the body is within maxMessageBytes, reduced when a foreign producer wrote more', async () => {
    const { topic, group } = names('limits');
    const dlq = `${topic}.dlq`;
    const limit = 64 * 1024;
    const a = adapter({ maxMessageBytes: limit });
    const dead = new Collector();
    await a.subscribe(spec({ group: `${group}-dlq`, topics: [dlq] }), dead.handler('dlq'));
    const observer = new ObserverLog();
    const main = new Collector();
    const poison = deadLetterTo(dlq);
    await a.subscribe(
      spec({ group, topics: [topic] }),
      main.handler('main', (record) => (record.key?.startsWith('after') ? ACK : poison(record))),
      observer,
    );

    const atLimit = Buffer.alloc(limit, 'a');
    const over = Buffer.alloc(100 * 1024, 'o');
    const bigHeader = 'h'.repeat(100 * 1024);
    await a.publish([{ topic, key: 'at-limit', headers: { 'x-small': 's' }, body: atLimit }]);
    // Another producer is held to no limit.
    const admin = await redis();
    await admin.xaddBuffer(topic, '*', '$key', 'over', '$body', over);
    await admin.xadd(topic, '*', '$key', 'big-header', 'x-big', bigHeader, '$body', 'small');
    await a.publish(
      [1, 2, 3].map((i) => ({ topic, key: `after-${i}`, headers: {}, body: Buffer.from(`${i}`) })),
    );

    await observer.until((log) => log.landed.length >= 3, 10_000);
    await dead.until(
      () => dead.deliveries.length >= 3,
      10_000,
      () => `${dead.deliveries.length} of 3 dead letters`,
    );
    await main.until(
      () => main.deliveries.length >= 6,
      10_000,
      () => `${main.deliveries.length} of 6 deliveries`,
    );
    expect(observer.failed).toEqual([]);
    const reducedOf = (key: string) => observer.landed.find((l) => l.record.key === key)!.landed.reduced;
    const letterOf = (key: string) => dead.deliveries.find((d) => d.record.key === key)!.record;

    // A body the adapter took: the dead letter keeps it, so it can be redriven as it was.
    expect(reducedOf('at-limit')).toEqual([]);
    expect(Buffer.from(letterOf('at-limit').body).equals(atLimit)).toBe(true);
    expect(letterOf('at-limit').headers).toMatchObject({
      'x-small': 's',
      'tidings-dlq-reason': 'NonRetryableError: poison',
    });

    expect(reducedOf('over')).toEqual(['body']);
    const overLetter = letterOf('over');
    expect(overLetter.body.byteLength).toBe(0);
    expect(overLetter.headers).toMatchObject({
      'tidings-dlq-reduced': 'body',
      'tidings-dlq-original-body-bytes': String(over.byteLength),
      'tidings-dlq-original-body-sha256': createHash('sha256').update(over).digest('hex'),
      'tidings-dlq-reason': 'NonRetryableError: poison',
    });

    expect(reducedOf('big-header')).toEqual(['headers']);
    const headerLetter = letterOf('big-header');
    expect(Buffer.from(headerLetter.body).toString()).toBe('small');
    expect(headerLetter.headers['x-big']!.length).toBeLessThan(300);
    expect(JSON.parse(headerLetter.headers['tidings-dlq-cut-headers']!)).toContainEqual(
      expect.objectContaining({ name: 'x-big', bytes: bigHeader.length }),
    );
    // Each poison record was delivered once: every dead letter landed the first time.
    expect(main.deliveries.filter((d) => !d.record.key?.startsWith('after')).length).toBe(3);
  });

  it.each(['none', 'key'] as const)(
    'refused for good (WRONGTYPE), leave their record to come back spaced out, with ordering %s',
    async (ordering) => {
      const { topic, group } = names(`wrongtype-${ordering}`);
      const dlq = `${topic}.dlq`;
      const admin = await redis();
      await admin.set(dlq, 'an operator put a string here');
      const a = adapter();
      const observer = new ObserverLog();
      const main = new Collector();
      const subscription = await a.subscribe(
        spec({ group, topics: [topic], ordering }),
        main.handler('main', (record) => (record.key === 'poison' ? deadLetterTo(dlq)(record) : ACK)),
        observer,
      );
      await a.publish([{ topic, key: 'poison', headers: {}, body: Buffer.from('poison') }]);
      await a.publish(
        [1, 2, 3, 4, 5].map((i) => ({ topic, key: `k-${i}`, headers: {}, body: Buffer.from(`${i}`) })),
      );
      const poisonDeliveries = () => main.deliveries.filter((d) => d.record.key === 'poison');

      // The records behind it are handled; the refusal is reported once, and visible.
      await main.until(
        () => main.distinctBodies().size >= 6,
        10_000,
        () => `${main.distinctBodies().size} of 6`,
      );
      await observer.until((log) => log.failed.length >= 1, 10_000);
      expect(observer.failed[0]!.error.message).toContain('WRONGTYPE');
      expect(observer.failed[0]!.settlement.type).toBe('deadLetter');
      expect(subscription.lastError?.message).toContain('WRONGTYPE');
      expect(observer.landed).toEqual([]);

      if (ordering === 'none') {
        // It comes back after a second, then after two: spaced out, not a loop.
        await main.until(
          () => poisonDeliveries().length >= 2,
          10_000,
          () => 'the poison came back',
        );
        const [first, second] = poisonDeliveries();
        expect(second!.at - first!.at).toBeGreaterThanOrEqual(900);
        expect(second!.record.attempt).toBe(2);
        await observer.until((log) => log.failed.length >= 2, 10_000);
        await quietPeriod(500);
        expect(poisonDeliveries().length).toBe(2);
      }
      // Once the key is fixed, the next attempt lands it, and that is the end of it.
      await admin.del(dlq);
      await observer.until((log) => log.landed.length >= 1, 10_000);
      expect(observer.landed[0]!.landed).toEqual({
        topic: dlq,
        reason: 'NonRetryableError: poison',
        reduced: [],
      });
      expect(await admin.xlen(dlq)).toBe(1);
      const deliveries = poisonDeliveries().length;
      await quietPeriod(300);
      expect(poisonDeliveries().length).toBe(deliveries);
    },
  );

  it('to a topic the rule refuses are refused, and nothing is written', async () => {
    const { topic, group } = names('bad-dlq');
    const admin = await redis();
    const emptyKeyBefore = await admin.type('');
    const a = adapter();
    const observer = new ObserverLog();
    const main = new Collector();
    await a.subscribe(
      spec({ group, topics: [topic] }),
      main.handler('main', (record) => (record.key === 'poison' ? deadLetterTo('')(record) : ACK)),
      observer,
    );
    await a.publish([{ topic, key: 'poison', headers: {}, body: Buffer.from('poison') }]);
    await a.publish([{ topic, key: 'after', headers: {}, body: Buffer.from('after') }]);
    await observer.until((log) => log.failed.length >= 1, 10_000);
    await main.untilDistinct(2, 10_000);
    expect(observer.failed[0]!.error).toBeInstanceOf(ConfigError);
    expect((observer.failed[0]!.error as ConfigError).field).toBe('deadLetter.topic');
    expect(await admin.type('')).toBe(emptyKeyBefore);
  });
});

describe('dead letters on a server out of memory', () => {
  let server: PrivateRedis | undefined;
  let a: RedisStreamsAdapter | undefined;

  afterEach(async () => {
    await a?.close({ signal: AbortSignal.timeout(2_000) });
    await server?.stop();
  });

  it('are written again, spaced out, until memory is back, without handling the record again', async () => {
    server = await PrivateRedis.start();
    const admin = await server.admin();
    try {
      a = createRedisStreamsAdapter({ connection: server.url });
      const observer = new ObserverLog();
      const main = new Collector();
      const decided = deferred();
      const oom = deferred();
      await a.subscribe(
        spec({ group: 'g', topics: ['orders'] }),
        main.handler('main', async (record) => {
          decided.resolve();
          await oom.promise;
          return deadLetterTo('orders.dlq')(record);
        }),
        observer,
      );
      await a.publish([{ topic: 'orders', key: 'poison', headers: {}, body: Buffer.from('poison') }]);
      await decided.promise;
      // Every write is refused from now on (XADD, SET, ZADD are "denyoom"; XACK and XCLAIM are not).
      await admin.config('SET', 'maxmemory', '1');
      oom.resolve();
      await observer.until((log) => log.failed.length >= 1, 10_000);
      expect(observer.failed[0]!.error.message).toContain('OOM command not allowed');
      await quietPeriod(700);
      expect(observer.landed).toEqual([]);

      await admin.config('SET', 'maxmemory', '0');
      await observer.until((log) => log.landed.length >= 1, 10_000);
      expect(observer.landed[0]!.landed.topic).toBe('orders.dlq');
      expect(await admin.xlen('orders.dlq')).toBe(1);
      // Refused for now, not for good: the record was kept and its dead letter written again.
      expect(main.deliveries.length).toBe(1);
      expect(observer.failed.length).toBe(1);
    } finally {
      await admin.quit();
    }
  });
});
