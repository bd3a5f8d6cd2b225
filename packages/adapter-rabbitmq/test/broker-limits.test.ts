import { createHash } from 'node:crypto';
import { Collector, ObserverLog } from '@tidings/conformance';
import type { BrokerAdapter, Settlement } from '@tidings/core/adapter';
import { type ChannelModel, connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMQAdapter, workQueueName } from '../src/index';
import { PrivateNode } from './support/private-node';

// A broker whose `max_message_size` is below what the adapter lets through: it refuses a dead
// letter as large as a record it took before. That is reconfiguring a broker, so a node of our own.
let node: PrivateNode;
let raw: ChannelModel | undefined;
const opened: BrokerAdapter[] = [];

beforeAll(async () => {
  node = await PrivateNode.start('limits');
}, 90_000);

afterAll(async () => {
  await Promise.allSettled(opened.map((a) => a.close({ signal: AbortSignal.timeout(5_000) })));
  await raw?.close().catch(() => undefined);
  await node?.stop();
}, 60_000);

describe('a broker that refuses the full dead letter', () => {
  it('writes the minimal copy once, without its body, and goes on', async () => {
    const exchange = 'limits';
    const topic = 'limits.refused';
    // This channel is opened before the limit drops: RabbitMQ checks a channel against the limit
    // it had when the channel opened, so the records published on it are taken.
    raw = await connect(node.url);
    const producer = await raw.createConfirmChannel();
    await node.eval('application:set_env(rabbit, max_message_size, 1024).');

    const adapter = createRabbitMQAdapter({ url: node.url, exchange, connectionName: 'limits' });
    opened.push(adapter);
    await adapter.connect();
    const observer = new ObserverLog();
    const main = new Collector();
    const subscription = await adapter.subscribe(
      {
        group: 'g',
        topics: [topic],
        concurrency: 2,
        prefetch: 2,
        ordering: 'none',
        startFrom: 'latest',
        maxAttempts: 3,
        handlerTimeoutMs: 5_000,
      },
      main.handler(
        'main',
        (record): Settlement =>
          record.key === 'refused'
            ? {
                type: 'deadLetter',
                topic: `${topic}.dlq`,
                reason: 'NonRetryableError: poison',
                headers: { 'tidings-dlq-reason': 'NonRetryableError: poison' },
              }
            : { type: 'ack' },
      ),
      observer,
    );
    const body = Buffer.alloc(4_096, 1);
    producer.publish(exchange, topic, body, { headers: { 'tidings-key': 'refused', 'x-kept': 'yes' } });
    for (let i = 0; i < 3; i++) {
      producer.publish(exchange, topic, Buffer.from(`after-${i}`), {
        headers: { 'tidings-key': `after-${i}` },
      });
    }
    await producer.waitForConfirms();

    await observer.until((log) => log.landed.length === 1, 20_000);
    // The full copy fitted the adapter's limits; the broker refused it for good (406), so the
    // minimal copy went, once, and the record was not handed back.
    expect(observer.landed[0]!.landed).toEqual({
      topic: `${topic}.dlq`,
      reason: 'NonRetryableError: poison',
      reduced: ['body'],
    });
    expect(observer.failed).toEqual([]);
    await main.untilDistinct(4, 10_000);
    expect(main.deliveries.filter((d) => d.record.key === 'refused').length).toBe(1);

    const reader = await raw.createChannel();
    const letter = await reader.get(workQueueName(exchange, 'g', `${topic}.dlq`), { noAck: true });
    expect(letter).not.toBe(false);
    if (letter === false) return;
    expect(letter.content.byteLength).toBe(0);
    const headers = letter.properties.headers ?? {};
    expect(String(headers['tidings-dlq-reduced'])).toBe('body');
    expect(String(headers['tidings-dlq-original-body-bytes'])).toBe('4096');
    expect(String(headers['tidings-dlq-original-body-sha256'])).toBe(
      createHash('sha256').update(body).digest('hex'),
    );
    expect(String(headers['x-kept'])).toBe('yes');
    expect(String(headers['tidings-dlq-reason'])).toBe('NonRetryableError: poison');
    expect(subscription.state).toBe('running');
    // The adapter publishes on after the refusal.
    await adapter.publish([{ topic, key: 'later', headers: {}, body: Buffer.from('later') }]);
    await main.untilDistinct(5, 10_000);
  });
});
