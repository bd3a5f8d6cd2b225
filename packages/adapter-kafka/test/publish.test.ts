import { Collector } from '@tidings/conformance';
import type { BrokerAdapter, SubscribeSpec } from '@tidings/core/adapter';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createKafkaAdapter } from '../src';
import { closeTestAdmin, deleteByPrefix, testAdapter, testAdmin, testNamespace } from './helpers';

const namespace = testNamespace('p');
const open: BrokerAdapter[] = [];
let counter = 0;

function adapter(options: Parameters<typeof testAdapter>[0] = {}): BrokerAdapter {
  const created = testAdapter(options);
  open.push(created);
  return created;
}

function names(label: string): { topic: string; group: string } {
  counter++;
  return { topic: `${namespace}-${label}-${counter}`, group: `${namespace}-g${counter}` };
}

function spec(group: string, topic: string): SubscribeSpec {
  return {
    group,
    topics: [topic],
    concurrency: 8,
    ordering: 'key',
    startFrom: 'earliest',
    maxAttempts: 5,
    handlerTimeoutMs: 5_000,
  };
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((a) => a.close({ signal: AbortSignal.timeout(5_000) })));
});

afterAll(async () => {
  await deleteByPrefix(namespace);
  await closeTestAdmin();
});

describe('kafka publishing', () => {
  it('refuses an oversize body before sending anything', async () => {
    const { topic } = names('oversize');
    const kafka = adapter({ maxMessageBytes: 1_000 });
    expect(kafka.capabilities.maxMessageBytes).toBe(1_000);
    await expect(
      kafka.publish([{ topic, key: undefined, headers: {}, body: new Uint8Array(1_001) }]),
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
    const kafka = adapter();
    await expect(
      kafka.publish([{ topic: 'żółw', key: undefined, headers: {}, body: new Uint8Array(1) }]),
    ).rejects.toMatchObject({
      code: 'PUBLISH',
      message: expect.stringContaining('characters Kafka does not allow'),
    });
    await expect(
      kafka.subscribe(spec(`${namespace}-g-bad`, 'a b'), async () => ({ type: 'ack' })),
    ).rejects.toMatchObject({
      code: 'CONFIG',
      field: 'topics',
    });
  });

  it('splits a publish larger than a record batch may be, keeping the order of each key', async () => {
    const { topic, group } = names('big');
    const kafka = adapter();
    const collector = new Collector();
    await kafka.subscribe(spec(group, topic), collector.handler('only'));
    const body = (i: number) =>
      Buffer.concat([Buffer.from(`${String(i).padStart(4, '0')}|`), Buffer.alloc(100_000, i)]);
    // 3 MB in one call: kafkajs would put each partition's share in one oversize batch.
    await kafka.publish(
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
    const { topic, group } = names('gzip');
    const kafka = adapter({ producer: { compression: 'gzip' }, topics: { partitions: 2 } });
    const collector = new Collector();
    await kafka.subscribe(spec(group, topic), collector.handler('only'));
    await kafka.publish([{ topic, key: 'k', headers: { h: 'v' }, body: Buffer.from('x'.repeat(10_000)) }]);
    await collector.untilDistinct(1, 20_000);
    expect(Buffer.from(collector.deliveries[0]!.record.body).toString()).toBe('x'.repeat(10_000));
    const admin = await testAdmin();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0]!.partitions).toHaveLength(2);
  });

  it('leaves topic creation to the operator when asked to', async () => {
    const { topic, group } = names('missing');
    const kafka = adapter({ topics: { create: false } });
    await expect(kafka.subscribe(spec(group, topic), async () => ({ type: 'ack' }))).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringContaining(`topic "${topic}" does not exist`),
    });
    await expect(
      kafka.publish([{ topic, key: undefined, headers: {}, body: new Uint8Array(1) }]),
    ).rejects.toMatchObject({ code: 'PUBLISH', message: expect.stringContaining('does not exist') });
  });

  it('fails to connect with a ConnectionError when no broker answers', async () => {
    const kafka = createKafkaAdapter({
      brokers: ['127.0.0.1:1'],
      connectionTimeoutMs: 500,
      kafkaConfig: { retry: { retries: 1, initialRetryTime: 50 } },
    });
    open.push(kafka);
    await expect(kafka.connect()).rejects.toMatchObject({ code: 'CONNECTION', name: 'ConnectionError' });
    expect(kafka.state).toBe('failed');
    await expect(
      kafka.publish([{ topic: 'anything', key: undefined, headers: {}, body: new Uint8Array(1) }]),
    ).rejects.toMatchObject({ code: 'PUBLISH', cause: expect.objectContaining({ code: 'CONNECTION' }) });
  });

  it('refuses everything after close with a ClosedError', async () => {
    const kafka = adapter();
    await kafka.connect();
    await Promise.all([kafka.close(), kafka.close()]);
    expect(kafka.state).toBe('closed');
    await expect(kafka.connect()).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(
      kafka.publish([{ topic: 'anything', key: undefined, headers: {}, body: new Uint8Array(1) }]),
    ).rejects.toMatchObject({ code: 'CLOSED' });
    await expect(kafka.subscribe(spec('g', 't'), async () => ({ type: 'ack' }))).rejects.toMatchObject({
      code: 'CLOSED',
    });
  });
});
