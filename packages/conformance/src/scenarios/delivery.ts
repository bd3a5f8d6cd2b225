import type { OutgoingRecord } from '@tidings/core/adapter';
import { expect } from 'vitest';
import { bodyText, Collector } from '../collector';
import { publishInBatches, records } from '../fixture';
import type { Scenario } from '../scenario';

const UNICODE_TEXT = 'zażółć gęślą jaźń · Ωμέγα · 日本語 · 🚀';

export const publishConsumeAll: Scenario = {
  name: 'publish-consume-all',
  title: 'delivers every published record once, with body, key and headers byte for byte',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('all');
    const collector = new Collector();
    await adapter.subscribe(fx.spec({ group: fx.group('all'), topics: [topic] }), collector.handler('only'));
    const sent = records(topic, 'all', settings.messages, {
      key: (i) => `key-${i % 16}`,
      headers: (i) => ({ 'x-seq': String(i), 'x-text': UNICODE_TEXT, 'x-empty': '' }),
    });
    await publishInBatches(adapter, sent);
    await collector.untilDistinct(sent.length, settings.deliveryTimeoutMs);

    const byBody = new Map(collector.deliveries.map((d) => [bodyText(d.record), d.record]));
    for (const record of sent) {
      const got = byBody.get(bodyText(record));
      expect(got, `record ${bodyText(record)} was not delivered`).toBeDefined();
      expect(Buffer.from(got!.body).equals(Buffer.from(record.body))).toBe(true);
      expect(got!.key).toBe(record.key);
      expect(got!.topic).toBe(topic);
      for (const [name, value] of Object.entries(record.headers)) expect(got!.headers[name]).toBe(value);
      expect(got!.attempt).toBe(1);
      expect(typeof got!.position).toBe('string');
    }
    expect(collector.deliveries.length, 'records delivered more than once on a healthy run').toBe(
      sent.length,
    );
  },
};

export const manyTopics: Scenario = {
  name: 'many-topics',
  title: 'keeps 20 topics apart, and one subscription can consume several topics',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topics = Array.from({ length: 20 }, (_, i) => fx.topic(`many${i}`));
    const perTopic = 10;
    const collectors = topics.map(() => new Collector());
    await Promise.all(
      topics.map((topic, i) =>
        adapter.subscribe(
          fx.spec({ group: fx.group(`many${i}`), topics: [topic] }),
          collectors[i]!.handler(`t${i}`),
        ),
      ),
    );
    const multi = new Collector();
    const multiTopics = topics.slice(0, 3);
    await adapter.subscribe(
      fx.spec({ group: fx.group('multi'), topics: multiTopics }),
      multi.handler('multi'),
    );

    await Promise.all(topics.map((topic, i) => adapter.publish(records(topic, `t${i}`, perTopic))));
    await Promise.all(collectors.map((c) => c.untilDistinct(perTopic, settings.deliveryTimeoutMs)));
    await multi.untilDistinct(perTopic * multiTopics.length, settings.deliveryTimeoutMs);

    collectors.forEach((collector, i) => {
      for (const delivery of collector.deliveries) {
        expect(delivery.record.topic).toBe(topics[i]);
        expect(bodyText(delivery.record).startsWith(`t${i}-`)).toBe(true);
      }
      expect(collector.distinctBodies().size).toBe(perTopic);
    });
    expect(new Set(multi.deliveries.map((d) => d.record.topic))).toEqual(new Set(multiTopics));
  },
};

export const oneGroupManySubscriptions: Scenario = {
  name: 'one-group-many-subscriptions',
  title: 'lets one group hold several subscriptions on different topics, each getting its own records',
  async run(fx, settings) {
    const group = fx.group('shared');
    const topics = [fx.topic('shared-a'), fx.topic('shared-b'), fx.topic('shared-c')];
    const collectors = topics.map(() => new Collector());
    // Two in one process, one in another: the way a service subscribes one group to several contracts.
    const first = await fx.adapter();
    const second = await fx.adapter();
    await first.subscribe(fx.spec({ group, topics: [topics[0]!] }), collectors[0]!.handler('a'));
    await first.subscribe(fx.spec({ group, topics: [topics[1]!] }), collectors[1]!.handler('b'));
    await second.subscribe(fx.spec({ group, topics: [topics[2]!] }), collectors[2]!.handler('c'));
    await Promise.all(
      topics.map((topic, i) => first.publish(records(topic, `s${i}`, 20, { key: (n) => `k${n % 5}` }))),
    );
    await Promise.all(collectors.map((c) => c.untilDistinct(20, settings.deliveryTimeoutMs)));
    collectors.forEach((collector, i) => {
      expect(collector.deliveries.every((d) => d.record.topic === topics[i])).toBe(true);
      expect(collector.deliveries.length).toBe(20);
    });
  },
};

export const competingConsumers: Scenario = {
  name: 'competing-consumers',
  title: 'shares a group between members, each record handled once',
  async run(fx, settings) {
    const topic = fx.topic('compete');
    const group = fx.group('compete');
    const collector = new Collector();
    const members = ['a', 'b', 'c'];
    for (const member of members) {
      const adapter = await fx.adapter();
      await adapter.subscribe(fx.spec({ group, topics: [topic], concurrency: 4 }), collector.handler(member));
    }
    const publisher = await fx.adapter();
    const sent = records(topic, 'compete', 300, { key: (i) => `key-${i % 30}` });
    await publishInBatches(publisher, sent, 50);
    await collector.untilDistinct(sent.length, settings.deliveryTimeoutMs);

    const perMember = new Map(
      members.map((m) => [m, collector.deliveries.filter((d) => d.member === m).length]),
    );
    expect(
      collector.deliveries.length,
      `duplicates on a healthy run; per member: ${JSON.stringify([...perMember])}`,
    ).toBe(sent.length);
    const working = [...perMember.values()].filter((n) => n > 0).length;
    expect(working, `the work was not shared: ${JSON.stringify([...perMember])}`).toBeGreaterThanOrEqual(2);
  },
};

export const fanOut: Scenario = {
  name: 'fan-out',
  title: 'gives every record to every group',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('fanout');
    const collectors = [new Collector(), new Collector(), new Collector()];
    await Promise.all(
      collectors.map((c, i) =>
        adapter.subscribe(fx.spec({ group: fx.group(`fan${i}`), topics: [topic] }), c.handler(`g${i}`)),
      ),
    );
    await adapter.publish(records(topic, 'fan', 100, { key: (i) => `k${i % 7}` }));
    await Promise.all(collectors.map((c) => c.untilDistinct(100, settings.deliveryTimeoutMs)));
    for (const c of collectors) expect(c.deliveries.length).toBe(100);
  },
};

export const bodiesAndUnicode: Scenario = {
  name: 'bodies-and-unicode',
  title: 'carries empty, large and binary bodies, unicode keys and headers, and refuses oversize bodies',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = settings.unicodeTopics ? fx.topic('żółw-🐢') : fx.topic('bodies');
    const collector = new Collector();
    await adapter.subscribe(
      fx.spec({ group: fx.group('bodies'), topics: [topic] }),
      collector.handler('only'),
    );

    const limit = fx.capabilities.maxMessageBytes;
    const large = Buffer.alloc(Math.min(1024 * 1024, limit));
    for (let i = 0; i < large.length; i++) large[i] = (i * 31 + 7) & 0xff;
    const binary = Buffer.alloc(1024);
    for (let i = 0; i < binary.length; i++) binary[i] = i & 0xff;
    const sent: OutgoingRecord[] = [
      { topic, key: 'empty', headers: { 'x-kind': 'empty' }, body: new Uint8Array(0) },
      { topic, key: 'large', headers: { 'x-kind': 'large' }, body: large },
      { topic, key: 'binary', headers: { 'x-kind': 'binary' }, body: binary },
      {
        topic,
        key: 'klucz-ż-🔑',
        headers: { 'x-kind': 'unicode', 'x-text': UNICODE_TEXT },
        body: Buffer.from(UNICODE_TEXT),
      },
      { topic, key: undefined, headers: { 'x-kind': 'no-key' }, body: Buffer.from('no key') },
    ];
    for (const record of sent) await adapter.publish([record]);
    await collector.until(
      () => new Set(collector.deliveries.map((d) => d.record.headers['x-kind'])).size >= sent.length,
      settings.deliveryTimeoutMs,
      () =>
        `got kinds ${[...new Set(collector.deliveries.map((d) => d.record.headers['x-kind']))].join(', ')}`,
    );
    for (const record of sent) {
      const got = collector.deliveries.find(
        (d) => d.record.headers['x-kind'] === record.headers['x-kind'],
      )!.record;
      expect(got.body.byteLength, `${record.headers['x-kind']} body length`).toBe(record.body.byteLength);
      expect(
        Buffer.from(got.body).equals(Buffer.from(record.body)),
        `${record.headers['x-kind']} body bytes`,
      ).toBe(true);
      expect(got.key).toBe(record.key);
      expect(got.topic).toBe(topic);
      for (const [name, value] of Object.entries(record.headers)) expect(got.headers[name]).toBe(value);
    }

    const oversize: OutgoingRecord = { topic, key: undefined, headers: {}, body: new Uint8Array(limit + 1) };
    await expect(adapter.publish([oversize])).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
  },
};

export const concurrencyWithinPrefetch: Scenario = {
  name: 'concurrency-within-prefetch',
  title: 'runs at most `concurrency` handlers at once while it may hold `prefetch` records, and loses none',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    // Two topics: an adapter with a prefetch per topic must still bound the handlers of both.
    const topics = [fx.topic('flow-a'), fx.topic('flow-b')];
    const concurrency = 3;
    const collector = new Collector();
    let running = 0;
    let peak = 0;
    await adapter.subscribe(
      fx.spec({ group: fx.group('flow'), topics, concurrency, prefetch: 8 * concurrency }),
      collector.handler('only', async () => {
        running++;
        peak = Math.max(peak, running);
        // Long enough for the records the adapter holds to pile up behind the busy handlers.
        await new Promise((resolve) => setTimeout(resolve, 10));
        running--;
        return { type: 'ack' };
      }),
    );
    const sent = topics.flatMap((topic) => records(topic, topic, 40, { key: (i) => `key-${i % 8}` }));
    await publishInBatches(adapter, sent, 20);
    await collector.untilDistinct(sent.length, settings.deliveryTimeoutMs);
    expect(peak, 'handlers running at once').toBeLessThanOrEqual(concurrency);
    expect(collector.deliveries.length, 'records delivered more than once on a healthy run').toBe(
      sent.length,
    );
  },
};

export const concurrentPublishers: Scenario = {
  name: 'concurrent-publishers',
  title: 'loses nothing when several publishers publish at once',
  async run(fx, settings) {
    const topic = fx.topic('concurrent');
    const consumer = await fx.adapter();
    const collector = new Collector();
    await consumer.subscribe(
      fx.spec({ group: fx.group('concurrent'), topics: [topic] }),
      collector.handler('only'),
    );
    const publishers = await Promise.all([fx.adapter(), fx.adapter(), fx.adapter(), fx.adapter()]);
    const perPublisher = 100;
    await Promise.all(
      publishers.map(async (publisher, p) => {
        const mine = records(topic, `p${p}`, perPublisher, { key: (i) => `k${i % 5}` });
        // Ten single-record publishes in flight at a time per publisher.
        for (let i = 0; i < mine.length; i += 10) {
          await Promise.all(mine.slice(i, i + 10).map((record) => publisher.publish([record])));
        }
      }),
    );
    await collector.untilDistinct(perPublisher * publishers.length, settings.deliveryTimeoutMs);
    expect(collector.distinctBodies().size).toBe(perPublisher * publishers.length);
  },
};
