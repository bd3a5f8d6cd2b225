import { Collector } from '@tidings/conformance';
import type { IncomingRecord, OutgoingRecord, Settlement, SubscribeSpec } from '@tidings/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import type { RedisStreamsAdapter } from '../src';
import { type Child, runFixture } from './child';
import { ACK, useTestKit } from './kit';
import { killConnections, REDIS_URL } from './redis';
import { waitUntil } from './wait';

function ordered(group: string, topic: string, overrides: Partial<SubscribeSpec> = {}): SubscribeSpec {
  return {
    group,
    topics: [topic],
    concurrency: 4,
    ordering: 'key',
    startFrom: 'earliest',
    maxAttempts: 10,
    handlerTimeoutMs: 2_000,
    ...overrides,
    prefetch: overrides.prefetch ?? overrides.concurrency ?? 4,
  };
}

/** `perKey` records for each of `keys` keys, interleaved: k0#0, k1#0, ..., k0#1, ... */
function interleaved(topic: string, keys: number, perKey: number): OutgoingRecord[] {
  const records: OutgoingRecord[] = [];
  for (let seq = 0; seq < perKey; seq++) {
    for (let k = 0; k < keys; k++) {
      records.push({ topic, key: `k${k}`, headers: {}, body: Buffer.from(`k${k}#${seq}`) });
    }
  }
  return records;
}

/** The sequence numbers each key was delivered in. */
function sequencesByKey(collector: Collector): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const { record } of collector.deliveries) {
    const seq = Number(Buffer.from(record.body).toString().split('#')[1]);
    byKey.set(record.key!, [...(byKey.get(record.key!) ?? []), seq]);
  }
  return byKey;
}

function expectInOrder(collector: Collector, keys: number, perKey: number): void {
  const byKey = sequencesByKey(collector);
  for (let k = 0; k < keys; k++) {
    const seqs = byKey.get(`k${k}`) ?? [];
    // A record may come twice (its first handler died), but nothing later overtakes it.
    expect(seqs, `order of k${k}`).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size, `records of k${k}`).toBe(perKey);
  }
}

describe('ordered subscriptions (ordering: key)', () => {
  const kit = useTestKit();
  const names = kit.names;
  const adapter = (): RedisStreamsAdapter => kit.adapter();
  let child: Child | undefined;

  afterEach(() => {
    child?.process.kill('SIGKILL');
    child = undefined;
  });

  it('has one member of the group read a stream at a time; the others stand by', async () => {
    const { topic, group } = names('one-reader');
    const collector = new Collector();
    for (const member of ['a', 'b', 'c']) {
      await adapter().subscribe(ordered(group, topic), collector.handler(member));
    }
    await adapter().publish(interleaved(topic, 4, 25));
    await collector.untilDistinct(100, 20_000);
    expect(new Set(collector.deliveries.map((d) => d.member)).size).toBe(1);
    expect(collector.deliveries).toHaveLength(100);
    expectInOrder(collector, 4, 25);
  });

  it('after the reading member is killed, another takes over its pending entries first, in order', async () => {
    const { topic, group } = names('takeover');
    const held = 4;
    child = runFixture('hold-entries.ts', [REDIS_URL, topic, group, String(held), 'key']);
    await child.line('READY');
    const publisher = adapter();
    await publisher.publish(interleaved(topic, 4, 5));
    await child.line(`HOLDING ${held}`);

    // A standby member; it cannot read while the other holds the lease.
    const collector = new Collector();
    await adapter().subscribe(ordered(group, topic), collector.handler('standby'));
    child.process.kill('SIGKILL');
    await child.exited;

    await collector.untilDistinct(20, 30_000);
    expectInOrder(collector, 4, 5);
    // The first record of each key had been delivered to the dead member: it comes back counted.
    for (const delivery of collector.deliveries) {
      const seq = Number(Buffer.from(delivery.record.body).toString().split('#')[1]);
      expect(delivery.record.attempt, Buffer.from(delivery.record.body).toString()).toBe(seq === 0 ? 2 : 1);
    }
  });

  it('after a holder is killed mid-handler, a new member gets the stream within seconds, not after the handler timeout', async () => {
    // The development loop: `tsx watch` or Ctrl-C kills the process without `close()`, with the
    // bus's default 30 s handler timeout. The dead member's lease and its entries must not hold the
    // next run back for the handler timeout (45 s before the short lease).
    const { topic, group } = names('restart');
    const held = 4;
    child = runFixture('hold-entries.ts', [REDIS_URL, topic, group, String(held), 'key', '30000']);
    await child.line('READY');
    await adapter().publish(interleaved(topic, 4, 5));
    await child.line(`HOLDING ${held}`);
    child.process.kill('SIGKILL');
    await child.exited;

    const collector = new Collector();
    await adapter().subscribe(ordered(group, topic, { handlerTimeoutMs: 30_000 }), collector.handler('next'));
    // A safety net well under the handler timeout: the default lease is 5 s.
    await collector.untilDistinct(20, 12_000);
    expectInOrder(collector, 4, 5);
    for (const delivery of collector.deliveries) {
      const seq = Number(Buffer.from(delivery.record.body).toString().split('#')[1]);
      expect(delivery.record.attempt, Buffer.from(delivery.record.body).toString()).toBe(seq === 0 ? 2 : 1);
    }
  });

  it('keeps the lease through a handler that runs longer than it; the standby member reads nothing', async () => {
    const { topic, group } = names('long-handler');
    const collector = new Collector();
    const slow = async (record: IncomingRecord): Promise<Settlement> => {
      if (record.key === 'k0' && Buffer.from(record.body).toString() === 'k0#0') {
        await new Promise((resolve) => setTimeout(resolve, 4_000));
      }
      return ACK;
    };
    const spec = ordered(group, topic, { handlerTimeoutMs: 20_000 });
    await kit.adapter({ leaseTtlMs: 1_000 }).subscribe(spec, collector.handler('holder', slow));
    await adapter().publish(interleaved(topic, 2, 5));
    await collector.until(
      () => collector.deliveries.length > 0,
      10_000,
      () => 'the first member handled nothing',
    );
    await kit.adapter({ leaseTtlMs: 1_000 }).subscribe(spec, collector.handler('standby', slow));
    await collector.untilDistinct(10, 20_000);
    expect(new Set(collector.deliveries.map((d) => d.member))).toEqual(new Set(['holder']));
    expect(collector.deliveries, 'a record handled twice').toHaveLength(10);
    expectInOrder(collector, 2, 5);
  });

  it('keeps the lease while a close waits for a handler longer than it; the standby takes over after', async () => {
    const { topic, group } = names('long-close');
    const collector = new Collector();
    const slow = async (record: IncomingRecord): Promise<Settlement> => {
      if (Buffer.from(record.body).toString() === 'k0#0') {
        await new Promise((resolve) => setTimeout(resolve, 3_000));
      }
      return ACK;
    };
    const spec = ordered(group, topic, { handlerTimeoutMs: 20_000 });
    const holder = await kit
      .adapter({ leaseTtlMs: 1_000 })
      .subscribe(spec, collector.handler('holder', slow));
    await kit.adapter({ leaseTtlMs: 1_000 }).subscribe(spec, collector.handler('standby', slow));
    await adapter().publish(interleaved(topic, 2, 5));
    await collector.until(
      () => collector.ofBody('k0#0').length > 0,
      10_000,
      () => 'k0#0 was not handled',
    );
    await holder.close();
    await collector.untilDistinct(10, 20_000);
    expect(
      collector.ofBody('k0#0').map((d) => d.member),
      'k0#0 handled twice',
    ).toEqual(['holder']);
    expect(collector.deliveries, 'a record handled twice').toHaveLength(10);
    expectInOrder(collector, 2, 5);
  });

  it('a holder whose event loop stalls past its lease stops handling; the next member takes the stream over', async () => {
    const { topic, group } = names('stall');
    child = runFixture('stall-holder.ts', [REDIS_URL, topic, group, '1000', '3000']);
    const lines: string[] = [];
    child.process.stdout!.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n')));
    await child.line('READY');
    // The child holds the lease before the standby joins.
    const r = await kit.redis();
    await waitUntil(
      async () => (await r.get(`tidings:lease:${JSON.stringify([topic, group])}`)) !== null,
      10_000,
      'the child took the lease',
    );
    const collector = new Collector();
    await kit.adapter({ leaseTtlMs: 1_000 }).subscribe(ordered(group, topic), collector.handler('standby'));
    await adapter().publish(interleaved(topic, 2, 5));
    await child.line('HANDLED k0#0');
    await collector.untilDistinct(10, 20_000);
    await child.line('STALLED');
    // Whatever the stalled member had fetched goes back: after the stall it starts no handler.
    await waitUntil(
      async () => ((await r.xpending(topic, group)) as [number])[0] === 0,
      10_000,
      'every record settled',
    );
    const after = lines.slice(lines.indexOf('STALLED')).filter((line) => line.startsWith('HANDLED'));
    expect(after, 'handled by the stalled member after its lease ran out').toEqual([]);
    const byStandby = sequencesByKey(collector);
    expect(byStandby.get('k0'), 'k0, taken over from the stalled member').toEqual([0, 1, 2, 3, 4]);
    expectInOrder(collector, 2, 5);
  });

  it('hands the stream over on close, and the next member honours a retry that was waiting', async () => {
    const { topic, group } = names('handover');
    const first = new Collector();
    let retriedAt = 0;
    const leaving = await adapter().subscribe(
      ordered(group, topic),
      first.handler('leaving', (record) => {
        if (record.key !== 'k0' || !Buffer.from(record.body).toString().endsWith('#0')) return ACK;
        retriedAt = performance.now();
        return { type: 'retry', delayMs: 1_000, headers: { 'tidings-attempt': String(record.attempt + 1) } };
      }),
    );
    await adapter().publish(interleaved(topic, 2, 3));
    // k1 goes through; k0 waits behind its first record's retry.
    await first.until(
      () => first.deliveries.filter((d) => d.record.key === 'k1').length === 3 && retriedAt > 0,
      10_000,
      () => 'k1 was not handled while k0 waited',
    );
    expect(first.deliveries.filter((d) => d.record.key === 'k0')).toHaveLength(1);
    await leaving.close();
    expect(
      first.deliveries.filter((d) => d.record.key === 'k0'),
      'k0 overtook its retry',
    ).toHaveLength(1);

    const next = new Collector();
    await adapter().subscribe(ordered(group, topic), next.handler('next'));
    await next.untilDistinct(3, 15_000);
    const again = next.deliveries[0]!;
    expect(Buffer.from(again.record.body).toString()).toBe('k0#0');
    expect(again.at - retriedAt, 'the retry came back early').toBeGreaterThanOrEqual(1_000 - 20);
    expect(again.record.attempt).toBe(2);
    expect(next.deliveries.map((d) => Buffer.from(d.record.body).toString())).toEqual([
      'k0#0',
      'k0#1',
      'k0#2',
    ]);
  });

  it('keeps the order of each key across dropped connections', async () => {
    const { topic, group } = names('drops');
    const consumer = adapter();
    const collector = new Collector();
    await consumer.subscribe(
      ordered(group, topic, { concurrency: 8 }),
      collector.handler('only', async () => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return ACK;
      }),
    );
    await adapter().publish(interleaved(topic, 8, 40));
    for (let drop = 1; drop <= 3; drop++) {
      await collector.until(
        () => collector.distinctBodies().size >= drop * 60,
        20_000,
        () => `${collector.distinctBodies().size} delivered before drop ${drop}`,
      );
      await killConnections(consumer.connectionName);
    }
    await collector.untilDistinct(320, 30_000);
    expectInOrder(collector, 8, 40);
  });
});
