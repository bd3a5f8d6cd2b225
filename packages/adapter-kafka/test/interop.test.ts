import { createBus, defineEvent, type ReceivedEvent } from '@tidings/core';
import { CloudEvent, Kafka as CloudEventsKafka, type KafkaMessage } from 'cloudevents';
import { type Consumer, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BROKERS, useKafka } from './helpers';

// The other side of each exchange is the official CloudEvents SDK for JavaScript with its Kafka
// binding, over a plain kafkajs client: nothing of Tidings.
const fixture = useKafka('i');
const kafka = new Kafka({ clientId: 'cloudevents-sdk-side', brokers: BROKERS, logLevel: logLevel.NOTHING });
const clients: (Consumer | Producer)[] = [];

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.disconnect()));
});

const Shipment = z.object({ shipmentId: z.string(), parcels: z.number().int(), note: z.string() });

describe('CloudEvents Kafka binding interop', () => {
  it('publishes events the CloudEvents SDK decodes with every attribute intact', async () => {
    const { topic, group } = fixture.names('to-sdk');
    const ShipmentSent = defineEvent({
      type: 'com.example.shipment.sent',
      version: 2,
      topic,
      schema: Shipment,
      key: (data) => data.shipmentId,
      subject: (data) => `shipments/${data.shipmentId}`,
      dataschema: 'https://schemas.example.com/shipment-sent/2',
    });
    const bus = createBus({ source: 'urn:example:warehouse', adapter: await fixture.adapter() });
    await bus.start();
    const data = { shipmentId: 's-42', parcels: 3, note: 'zażółć 🚚' };
    const published = await bus.publish(ShipmentSent, data, {
      time: '2024-05-01T10:20:30.456Z',
      correlationId: 'c-1',
      causationId: 'e-0',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      extensions: { tenant: 'acme' },
    });
    await bus.stop();

    const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
    clients.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const message = await new Promise<KafkaMessage<Buffer>>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message: raw }) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(raw.headers ?? {})) headers[name] = String(value);
          resolve({ key: raw.key?.toString() ?? '', value: raw.value!, headers, body: raw.value });
        },
      });
    });

    expect(CloudEventsKafka.isEvent(message)).toBe(true);
    const event = CloudEventsKafka.toEvent(message) as CloudEvent<unknown>;
    expect(event.validate()).toBe(true);
    expect(event).toMatchObject({
      specversion: '1.0',
      id: published.id,
      source: 'urn:example:warehouse',
      type: 'com.example.shipment.sent',
      time: '2024-05-01T10:20:30.456Z',
      subject: 'shipments/s-42',
      datacontenttype: 'application/json',
      dataschema: 'https://schemas.example.com/shipment-sent/2',
      partitionkey: 's-42',
      eventversion: '2',
      correlationid: 'c-1',
      causationid: 'e-0',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tenant: 'acme',
    });
    expect(event.data).toEqual(data);
  });

  it('consumes an event the CloudEvents SDK produced', async () => {
    const { topic, group } = fixture.names('from-sdk');
    const ShipmentSent = defineEvent({ type: 'com.example.shipment.sent', topic, schema: Shipment });
    const bus = createBus({ source: 'urn:example:billing', adapter: await fixture.adapter() });
    const received = new Promise<ReceivedEvent>((resolve) => {
      bus.subscribe(ShipmentSent, { group, startFrom: 'earliest' }, (event) => {
        resolve(event);
      });
    });
    await bus.start();

    const sent = new CloudEvent({
      specversion: '1.0',
      id: 'sdk-event-1',
      source: 'urn:example:sdk',
      type: 'com.example.shipment.sent',
      time: '2024-05-02T08:00:00.000Z',
      subject: 'shipments/s-7',
      datacontenttype: 'application/json',
      partitionkey: 's-7',
      region: 'eu',
      data: { shipmentId: 's-7', parcels: 1, note: 'from the SDK' },
    });
    const message = CloudEventsKafka.binary(sent);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(message.headers)) {
      if (value !== undefined) headers[name] = String(value);
    }
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    clients.push(producer);
    await producer.connect();
    await producer.send({
      topic,
      messages: [{ key: String(message.key), value: JSON.stringify(message.value), headers }],
    });

    const event = await received;
    await bus.stop();
    expect(event).toMatchObject({
      id: 'sdk-event-1',
      source: 'urn:example:sdk',
      type: 'com.example.shipment.sent',
      time: '2024-05-02T08:00:00.000Z',
      subject: 'shipments/s-7',
      key: 's-7',
      version: 1,
      data: { shipmentId: 's-7', parcels: 1, note: 'from the SDK' },
    });
    expect(event.extensions).toMatchObject({ region: 'eu' });
  });
});
