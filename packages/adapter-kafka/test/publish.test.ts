import { Collector } from '@tidings/conformance';
import { describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../src';
import { connectionRetries, TEST_CLIENT } from './clients';
import { subscribeSpec, testAdmin, useKafka } from './helpers';

const kafka = useKafka('p');

describe('kafka publishing', () => {
  it('refuses an oversize body before sending anything', async () => {
    const { topic } = kafka.names('oversize');
    const adapter = await kafka.adapter({ maxMessageBytes: 1_000 });
    expect(adapter.capabilities.maxMessageBytes).toBe(1_000);
    await expect(
      adapter.publish([{ topic, key: undefined, headers: {}, body: new Uint8Array(1_001) }]),
    ).rejects.toMatchObject({
      name: 'MessageTooLargeError',
      code: 'MESSAGE_TOO_LARGE',
      size: 1_001,
      limit: 1_000,
    });
    const admin = await testAdmin();
    expect(await admin.listTopics()).not.toContain(topic);
  });

  it('refuses topic names Kafka does not allow, with the reason', async () => {
    const adapter = await kafka.adapter();
    await expect(
      adapter.publish([{ topic: 'żółw', key: undefined, headers: {}, body: new Uint8Array(1) }]),
    ).rejects.toMatchObject({
      code: 'PUBLISH',
      topic: 'żółw',
      message: expect.stringMatching(/is not a valid name here: ASCII letters, digits/),
    });
    await expect(
      adapter.subscribe(subscribeSpec(`${kafka.namespace}-g-bad`, 'a b'), async () => ({ type: 'ack' })),
    ).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'topics',
    });
  });

  it('splits a publish larger than a record batch may be, keeping the order of each key', async () => {
    const { topic, group } = kafka.names('big');
    const adapter = await kafka.adapter();
    const collector = new Collector();
    await adapter.subscribe(subscribeSpec(group, topic), collector.handler('only'));
    const body = (i: number) =>
      Buffer.concat([Buffer.from(`${String(i).padStart(4, '0')}|`), Buffer.alloc(100_000, i)]);
    // 3 MB in one call: kafkajs would put each partition's share in one oversize batch.
    await adapter.publish(
      Array.from({ length: 30 }, (_, i) => ({ topic, key: `k${i % 2}`, headers: {}, body: body(i) })),
    );
    await collector.untilDistinct(30, 20_000);
    for (const key of ['k0', 'k1']) {
      const order = collector.deliveries
        .filter((d) => d.record.key === key)
        .map((d) => Number(Buffer.from(d.record.body).subarray(0, 4).toString()));
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    expect(collector.deliveries.every((d) => d.record.body.byteLength === 100_005)).toBe(true);
  });

  it('compresses with gzip and creates topics with the configured partitions', async () => {
    const { topic, group } = kafka.names('gzip');
    const adapter = await kafka.adapter({ producer: { compression: 'gzip' }, topics: { partitions: 2 } });
    const collector = new Collector();
    await adapter.subscribe(subscribeSpec(group, topic), collector.handler('only'));
    await adapter.publish([{ topic, key: 'k', headers: { h: 'v' }, body: Buffer.from('x'.repeat(10_000)) }]);
    await collector.untilDistinct(1, 20_000);
    expect(Buffer.from(collector.deliveries[0]!.record.body).toString()).toBe('x'.repeat(10_000));
    const admin = await testAdmin();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0]!.partitions).toHaveLength(2);
  });

  it('leaves topic creation to the operator when asked to', async () => {
    const { topic, group } = kafka.names('missing');
    const adapter = await kafka.adapter({ topics: { create: false } });
    await expect(
      adapter.subscribe(subscribeSpec(group, topic), async () => ({ type: 'ack' })),
    ).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringContaining(`topic "${topic}" does not exist`),
    });
    await expect(
      adapter.publish([{ topic, key: undefined, headers: {}, body: new Uint8Array(1) }]),
    ).rejects.toMatchObject({ code: 'PUBLISH', message: expect.stringContaining('does not exist') });
  });

  it('fails to connect with a ConnectionError when no broker answers', async () => {
    const nowhere = createKafkaAdapter({
      brokers: ['127.0.0.1:1'],
      connectionTimeoutMs: 500,
      client: TEST_CLIENT,
      ...connectionRetries(1),
    });
    await expect(nowhere.connect()).rejects.toMatchObject({ code: 'CONNECTION', name: 'ConnectionError' });
    expect(nowhere.state).toBe('failed');
    await expect(
      nowhere.publish([{ topic: 'anything', key: undefined, headers: {}, body: new Uint8Array(1) }]),
    ).rejects.toMatchObject({ code: 'PUBLISH', cause: expect.objectContaining({ code: 'CONNECTION' }) });
    await nowhere.close();
  });

  it('refuses everything after close with a ClosedError', async () => {
    const adapter = await kafka.adapter();
    await adapter.connect();
    await Promise.all([adapter.close(), adapter.close()]);
    expect(adapter.state).toBe('closed');
    await expect(adapter.connect()).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(
      adapter.publish([{ topic: 'anything', key: undefined, headers: {}, body: new Uint8Array(1) }]),
    ).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(
      adapter.subscribe(subscribeSpec('g', 't'), async () => ({ type: 'ack' })),
    ).rejects.toMatchObject({
      code: 'CLOSED',
    });
  });
});
