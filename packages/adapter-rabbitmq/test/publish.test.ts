import { Collector } from '@tidings/conformance';
import { connect, type Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createRabbitMQAdapter, type RabbitMQAdapterOptions, workQueueName } from '../src/index';
import { confirmChannels, RABBITMQ_URL } from './support/broker';
import { useBroker } from './support/fixture';

const broker = useBroker('publish');
const { exchange } = broker;
const adapter = (options: RabbitMQAdapterOptions = {}) => broker.adapter('test', options);
const spec = (group: string, topics: string[]) => broker.spec(group, topics, 4);

describe('publishing to RabbitMQ', () => {
  it('fails with a PublishError when no queue is bound to the topic, rather than losing the record', async () => {
    const publisher = await adapter();
    const attempt = publisher.publish([
      { topic: 'nobody.listens', key: undefined, headers: {}, body: Buffer.from('x') },
    ]);
    await expect(attempt).rejects.toMatchObject({
      name: 'PublishError',
      code: 'PUBLISH',
      topic: 'nobody.listens',
    });
    await expect(attempt).rejects.toThrow(/no queue is bound to "nobody\.listens".*312 NO_ROUTE/);
  });

  it('names the unroutable record among routable ones, and still delivers those', async () => {
    const publisher = await adapter();
    const collector = new Collector();
    await publisher.subscribe(spec('mixed', ['mixed.bound']), collector.handler('only'));
    const attempt = publisher.publish([
      { topic: 'mixed.bound', key: undefined, headers: {}, body: Buffer.from('one') },
      { topic: 'mixed.unbound', key: undefined, headers: {}, body: Buffer.from('lost?') },
      { topic: 'mixed.bound', key: undefined, headers: {}, body: Buffer.from('two') },
    ]);
    await expect(attempt).rejects.toMatchObject({ topic: 'mixed.unbound' });
    await collector.untilDistinct(2, 10_000);
    expect([...collector.distinctBodies()].sort()).toEqual(['one', 'two']);
  });

  it('replaces its channel after a nack, so that the next publish goes out on a new one', async () => {
    const publisher = await broker.adapter('nack');
    const topic = 'nacked';
    const queue = `${exchange}/full/${topic}`;
    const connection = await connect(RABBITMQ_URL);
    try {
      const channel = await connection.createChannel();
      await channel.assertExchange(exchange, 'topic', { durable: true });
      // A queue that refuses a second record: RabbitMQ nacks a publish a queue cannot take.
      await channel.assertQueue(queue, {
        durable: true,
        // Classic: a quorum queue applies its length limit a few records late.
        arguments: { 'x-queue-type': 'classic', 'x-max-length': 1, 'x-overflow': 'reject-publish' },
      });
      await channel.bindQueue(queue, exchange, topic);
      const record = (body: string) => ({ topic, key: undefined, headers: {}, body: Buffer.from(body) });
      await publisher.publish([record('first')]);
      const before = await confirmChannels(`${exchange} nack `);
      expect(before).toHaveLength(1);
      await expect(publisher.publish([record('second')])).rejects.toMatchObject({
        name: 'PublishError',
        message: expect.stringMatching(/nack/),
      });
      await channel.purgeQueue(queue);
      await publisher.publish([record('third')]);
      const after = await confirmChannels(`${exchange} nack `);
      expect(after).toHaveLength(1);
      expect(after).not.toEqual(before);
      await channel.close();
    } finally {
      await connection.close();
    }
  });

  it('lets RabbitMQ drop unroutable records when asked to', async () => {
    const publisher = await adapter({ rejectUnroutable: false });
    await expect(
      publisher.publish([{ topic: 'nobody.listens', key: undefined, headers: {}, body: Buffer.from('x') }]),
    ).resolves.toBeUndefined();
  });

  it('refuses an oversize body before sending anything', async () => {
    const publisher = await adapter({ maxMessageBytes: 1024 });
    await expect(
      publisher.publish([{ topic: 't', key: undefined, headers: {}, body: new Uint8Array(1025) }]),
    ).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE', size: 1025, limit: 1024 });
  });

  it('puts records on the wire in CloudEvents binary mode, persistent, with the event id as message id', async () => {
    const publisher = await adapter();
    const queue = `${exchange}/raw-reader`;
    const channel = await broker.raw().createChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await channel.bindQueue(queue, exchange, 'order.placed');
    const received = new Promise<Message>((resolve) => {
      void channel.consume(queue, (message) => {
        if (message !== null) {
          channel.ack(message);
          resolve(message);
        }
      });
    });
    await publisher.publish([
      {
        topic: 'order.placed',
        key: 'order-42',
        headers: {
          'cloudEvents:id': '0190b5d2-7c1e-7000-8000-00000000abcd',
          'cloudEvents:specversion': '1.0',
          'cloudEvents:type': 'order.placed',
          'cloudEvents:source': 'test',
          'content-type': 'application/json',
        },
        body: Buffer.from('{"orderId":"order-42"}'),
      },
    ]);
    const message = await received;
    expect(message.fields.routingKey).toBe('order.placed');
    expect(message.properties).toMatchObject({
      contentType: 'application/json',
      deliveryMode: 2,
      messageId: '0190b5d2-7c1e-7000-8000-00000000abcd',
      headers: {
        'cloudEvents:id': '0190b5d2-7c1e-7000-8000-00000000abcd',
        'cloudEvents:specversion': '1.0',
        'cloudEvents:type': 'order.placed',
        'cloudEvents:source': 'test',
        'tidings-key': 'order-42',
      },
    });
    expect(message.content.toString()).toBe('{"orderId":"order-42"}');
    await channel.close();
  });

  it('fails connect with a ConnectionError naming the broker, without the password', async () => {
    const unreachable = createRabbitMQAdapter({
      url: 'amqp://app:secret@127.0.0.1:1',
      connectTimeoutMs: 500,
    });
    const attempt = unreachable.connect();
    await expect(attempt).rejects.toMatchObject({ code: 'CONNECTION' });
    await expect(attempt).rejects.toThrow(/cannot reach RabbitMQ at amqp:\/\/app:\*\*\*@127\.0\.0\.1:1/);
    await expect(
      unreachable.publish([{ topic: 't', key: undefined, headers: {}, body: Buffer.from('x') }]),
    ).rejects.toMatchObject({ code: 'PUBLISH' });
    await unreachable.close();
    expect(unreachable.state).toBe('closed');
  });

  it('names queues after the exchange, the group and the topic, and makes them quorum queues', async () => {
    const subscriber = await adapter();
    await subscriber.subscribe(spec('billing', ['order.paid']), async () => ({ type: 'ack' }));
    const queue = workQueueName(exchange, 'billing', 'order.paid');
    expect(queue).toBe(`${exchange}/billing/order.paid`);
    const channel = await broker.raw().createChannel();
    channel.on('error', () => undefined);
    // Declaring it as a classic queue fails: RabbitMQ says the existing one is a quorum queue.
    const refused = channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'classic' } });
    await expect(refused).rejects.toThrow(/PRECONDITION_FAILED.*x-queue-type/);
  });

  it('reports a queue that exists with other settings as a configuration error', async () => {
    const channel = await broker.raw().createChannel();
    await channel.assertQueue(workQueueName(exchange, 'legacy', 'order.shipped'), { durable: true });
    await channel.close();
    const subscriber = await adapter();
    const attempt = subscriber.subscribe(spec('legacy', ['order.shipped']), async () => ({ type: 'ack' }));
    await expect(attempt).rejects.toMatchObject({ code: 'CONFIG', field: 'queueType' });
    await expect(attempt).rejects.toThrow(/inequivalent arg 'x-queue-type'/);
    // The adapter is unharmed: the next subscription works.
    await expect(
      subscriber.subscribe(spec('fresh', ['order.shipped']), async () => ({ type: 'ack' })),
    ).resolves.toBeDefined();
  });

  it('refuses topics its rule refuses, * and # included, on publish and on subscribe, before sending', async () => {
    const subscriber = await adapter();
    // `*` and `#` would make a work queue's binding a wildcard that takes other topics' records.
    for (const topic of ['audit.*', 'audit.#', 'tab\tbed', 't'.repeat(201), '']) {
      await expect(
        subscriber.subscribe(spec('rule', [topic]), async () => ({ type: 'ack' })),
        JSON.stringify(topic.slice(0, 20)),
      ).rejects.toMatchObject({ code: 'CONFIG', field: 'topics' });
      await expect(
        subscriber.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('x') }]),
        JSON.stringify(topic.slice(0, 20)),
      ).rejects.toMatchObject({ name: 'PublishError', code: 'PUBLISH' });
    }
    // Any other character is fine, up to 200 bytes.
    const collector = new Collector();
    const topic = `audit.ünïcode.${'x'.repeat(150)}`;
    await subscriber.subscribe(spec('rule-ok', [topic]), collector.handler('only'));
    await subscriber.publish([{ topic, key: undefined, headers: {}, body: Buffer.from('in') }]);
    await collector.untilDistinct(1, 10_000);
    expect(collector.deliveries[0]!.record.topic).toBe(topic);
  });

  it('refuses key ordering, which RabbitMQ queues cannot keep', async () => {
    const subscriber = await adapter();
    await expect(
      subscriber.subscribe({ ...spec('ordered', ['t']), ordering: 'key' }, async () => ({ type: 'ack' })),
    ).rejects.toMatchObject({ code: 'CONFIG', field: 'ordering' });
  });
});
