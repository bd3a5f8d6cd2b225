import type { BrokerAdapter, OutgoingRecord } from '@tidings/core/adapter';
import { expect } from 'vitest';
import { ACK, Collector, deferred, quietPeriod } from '../collector';
import { publishInBatches, records } from '../fixture';
import type { Scenario } from '../scenario';

export const resume: Scenario = {
  name: 'resume',
  title: 'lets a group that closes and reopens continue where it left off',
  unsupported: (c) =>
    c.redelivery ? undefined : 'the adapter keeps nothing for a group with no member (at-most-once)',
  async run(fx, settings) {
    const topic = fx.topic('resume');
    const group = fx.group('resume');
    const before = new Collector();
    const first = await fx.adapter();
    const subscription = await first.subscribe(fx.spec({ group, topics: [topic] }), before.handler('first'));
    await publishInBatches(first, records(topic, 'first', 20, { key: (i) => `k${i % 4}` }));
    await before.untilDistinct(20, settings.deliveryTimeoutMs);
    await fx.closeSubscription(subscription);
    await first.close();

    // Published while the group has no member: it must still reach the group.
    const publisher = await fx.adapter();
    await publishInBatches(publisher, records(topic, 'second', 20, { key: (i) => `k${i % 4}` }));

    const after = new Collector();
    const second = await fx.adapter();
    await second.subscribe(fx.spec({ group, topics: [topic] }), after.handler('second'));
    await after.untilDistinct(20, settings.deliveryTimeoutMs);
    await quietPeriod(300);
    const bodies = [...after.distinctBodies()];
    expect(
      bodies.filter((b) => b.startsWith('first-')),
      'records settled before the close came back',
    ).toEqual([]);
    expect(bodies.filter((b) => b.startsWith('second-')).length).toBe(20);
  },
};

export const startPosition: Scenario = {
  name: 'start-position',
  title: 'starts a new group at the earliest retained record or at the latest, as asked',
  async run(fx, settings) {
    const topic = fx.topic('start');
    const adapter = await fx.adapter();
    // A group that exists before the first publish makes sure the topic holds the records.
    const anchor = new Collector();
    await adapter.subscribe(
      fx.spec({ group: fx.group('start-anchor'), topics: [topic] }),
      anchor.handler('anchor'),
    );
    await adapter.publish(records(topic, 'old', 10));
    await anchor.untilDistinct(10, settings.deliveryTimeoutMs);

    const latest = new Collector();
    await adapter.subscribe(
      fx.spec({ group: fx.group('start-latest'), topics: [topic], startFrom: 'latest' }),
      latest.handler('latest'),
    );
    if (fx.capabilities.replay) {
      const earliest = new Collector();
      await adapter.subscribe(
        fx.spec({ group: fx.group('start-earliest'), topics: [topic], startFrom: 'earliest' }),
        earliest.handler('earliest'),
      );
      await earliest.untilDistinct(10, settings.deliveryTimeoutMs);
    }
    await adapter.publish(records(topic, 'new', 5));
    await latest.untilDistinct(5, settings.deliveryTimeoutMs);
    expect([...latest.distinctBodies()].filter((b) => b.startsWith('old-'))).toEqual([]);
  },
};

export const closeSemantics: Scenario = {
  name: 'close-semantics',
  title: 'drains handlers on close, is idempotent, and refuses work afterwards with a typed error',
  async run(fx, settings) {
    const topic = fx.topic('close');
    const group = fx.group('close');
    const adapter = await fx.adapter();
    expect(adapter.state).toBe('connected');
    const collector = new Collector();
    const started = deferred();
    let finished = false;
    await adapter.subscribe(
      fx.spec({ group, topics: [topic] }),
      collector.handler('slow', async () => {
        started.resolve();
        await new Promise((resolve) => setTimeout(resolve, 300));
        finished = true;
        return ACK;
      }),
    );
    await adapter.publish([{ topic, key: 'k', headers: {}, body: Buffer.from('slow') }]);
    await started.promise;

    const closes = [adapter.close(), adapter.close()];
    await Promise.all(closes);
    expect(finished, 'close resolved before the in-flight handler finished').toBe(true);
    await adapter.close();
    expect(adapter.state).toBe('closed');

    const record: OutgoingRecord = { topic, key: undefined, headers: {}, body: Buffer.from('late') };
    await expect(adapter.publish([record])).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(
      adapter.subscribe(fx.spec({ group, topics: [topic] }), async () => ACK),
    ).rejects.toMatchObject({
      code: 'CLOSED',
    });
    await expect(adapter.connect()).rejects.toMatchObject({ code: 'CLOSED' });

    // The drained record was settled before the close finished: the group does not see it again.
    const next = await fx.adapter();
    const again = new Collector();
    await next.subscribe(fx.spec({ group, topics: [topic] }), again.handler('next'));
    await next.publish([{ topic, key: 'k', headers: {}, body: Buffer.from('marker') }]);
    await again.until(
      () => again.ofBody('marker').length > 0,
      settings.deliveryTimeoutMs,
      () => 'marker not delivered',
    );
    expect(again.ofBody('slow'), 'the drained record was redelivered').toEqual([]);
  },
};

async function publishRetrying(
  adapter: BrokerAdapter,
  batch: readonly OutgoingRecord[],
  until: number,
): Promise<void> {
  for (;;) {
    try {
      await adapter.publish(batch);
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if ((code !== 'CONNECTION' && code !== 'PUBLISH') || Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export const reconnect: Scenario = {
  name: 'reconnect',
  title: 'reconnects after the broker drops the connection and delivers everything',
  unsupported: (_c, settings) =>
    settings.dropConnection === undefined ? 'no dropConnection hook was given to the suite' : undefined,
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('reconnect');
    const collector = new Collector();
    await adapter.subscribe(
      fx.spec({ group: fx.group('reconnect'), topics: [topic] }),
      collector.handler('only'),
    );
    await adapter.publish(records(topic, 'before', 20));
    await collector.untilDistinct(20, settings.deliveryTimeoutMs);

    await settings.dropConnection!(adapter);
    // A publish while the adapter reconnects may fail with a typed error; a user retries it.
    const deadline = Date.now() + settings.redeliveryTimeoutMs;
    for (const record of records(topic, 'after', 20)) await publishRetrying(adapter, [record], deadline);
    await collector.until(
      () => [...collector.distinctBodies()].filter((b) => b.startsWith('after-')).length >= 20,
      settings.redeliveryTimeoutMs,
      () =>
        `${[...collector.distinctBodies()].filter((b) => b.startsWith('after-')).length} of 20 delivered after the drop`,
    );
    expect(adapter.state).toBe('connected');
    expect(collector.distinctBodies().size).toBe(40);
    expect([...collector.distinctBodies()].every((b) => /^(before|after)-\d+$/.test(b))).toBe(true);
  },
};
