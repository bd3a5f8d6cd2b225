// Traces and metrics across a real broker: producer → RabbitMQ → consumer, with the OpenTelemetry
// SDK's in-memory exporters. Core cannot depend on an adapter package (the adapters depend on
// core), so the adapter and its test helpers are imported from the workspace directly.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createRabbitMQAdapter } from '@tidings/adapter-rabbitmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  deleteTopology,
  RABBITMQ_URL,
  START_HINT,
  uniqueName,
} from '../../adapter-rabbitmq/test/support/broker';
import type { BrokerAdapter } from '../src/adapters/contract';
import { createBus } from '../src/bus/bus';
import type { Bus } from '../src/bus/options';
import { defineEvent } from '../src/contracts/define-event';
import { METRIC_NAMES } from '../src/tracing/names';
import { createTestSdk, expectChainedTrace, parentOf, type TestSdk, useAsyncContext } from './support/otel';

const OrderPlaced = defineEvent({
  type: 'order.placed',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  key: (data) => data.orderId,
});
const ShipmentPrepared = defineEvent({
  type: 'shipment.prepared',
  schema: z.object({ orderId: z.string() }),
  key: (data) => data.orderId,
});

const exchange = uniqueName('tracing');
const adapters: BrokerAdapter[] = [];
let sdk: TestSdk;
let restoreContext: () => void;

async function rabbitBus(role: string): Promise<Bus> {
  const adapter = createRabbitMQAdapter({
    url: RABBITMQ_URL,
    exchange,
    connectionName: `${exchange} ${role}`,
  });
  adapters.push(adapter);
  try {
    await adapter.connect();
  } catch (error) {
    throw new Error(`RabbitMQ is not reachable at ${RABBITMQ_URL}: ${START_HINT}`, { cause: error });
  }
  return createBus({
    source: `${role}-service`,
    adapter,
    telemetry: { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider },
  });
}

beforeAll(() => {
  restoreContext = useAsyncContext();
  sdk = createTestSdk();
});

afterAll(async () => {
  await Promise.allSettled(adapters.map((adapter) => adapter.close({ signal: AbortSignal.timeout(5_000) })));
  await deleteTopology(exchange);
  await sdk.shutdown();
  restoreContext();
});

const byId = (id: string) => (span: ReadableSpan) => span.attributes['messaging.message.id'] === id;
const spanId = (span: ReadableSpan) => span.spanContext().spanId;

describe('tracing over RabbitMQ', () => {
  it('spans producer → broker → consumer in one trace, with the messaging attributes', async () => {
    // Two services, as in production: one publishes, the other consumes and publishes on.
    const api = await rabbitBus('api');
    const worker = await rabbitBus('worker');
    const tracer = sdk.tracerProvider.getTracer('app');
    worker.subscribe(OrderPlaced, { group: 'fulfilment' }, async (event, ctx) => {
      await tracer.startActiveSpan('reserve stock', async (span) => span.end());
      await ctx.publish(ShipmentPrepared, { orderId: event.data.orderId });
    });
    worker.subscribe(ShipmentPrepared, { group: 'notifications' }, () => undefined);
    await api.start();
    await worker.start();

    const published = await tracer.startActiveSpan('place order', async (span) => {
      const result = await api.publish(
        OrderPlaced,
        { orderId: 'o-1', total: 42 },
        { correlationId: 'conv-1' },
      );
      span.end();
      return result;
    });
    const { publish, process } = await expectChainedTrace(sdk, published.id);

    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': 'order.placed',
      'messaging.operation.type': 'send',
      'messaging.message.id': published.id,
      'messaging.message.conversation_id': 'conv-1',
    });
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': 'order.placed',
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': 'fulfilment',
      'messaging.message.id': published.id,
      'messaging.message.conversation_id': 'conv-1',
      'messaging.message.body.size': publish.attributes['messaging.message.body.size'],
      'tidings.delivery.attempt': 1,
      'tidings.settlement': 'ack',
    });
    await worker.stop();
    await api.stop();
  });

  it('shows a failed attempt, its retry and a dead letter on the spans, and counts them', async () => {
    const bus = await rabbitBus('billing');
    bus.subscribe(
      OrderPlaced,
      { group: 'billing', retry: { maxAttempts: 2, initialDelayMs: 100, jitter: 0 } },
      (event, ctx) => {
        if (event.data.orderId === 'poison' || ctx.attempt === 1)
          throw new Error(`card declined ${ctx.attempt}`);
      },
    );
    // The dead letters' own consumer continues the trace of the event too.
    bus.subscribe(
      OrderPlaced,
      { group: 'dlq-audit', topic: bus.deadLetterTopicOf(OrderPlaced, 'billing') },
      () => undefined,
    );
    await bus.start();
    const flaky = await bus.publish(OrderPlaced, { orderId: 'flaky', total: 1 });
    const poison = await bus.publish(OrderPlaced, { orderId: 'poison', total: 2 });
    const billing = (id: string) => (s: ReadableSpan) =>
      byId(id)(s) && s.attributes['messaging.consumer.group.name'] === 'billing';
    const attempt = (s: ReadableSpan) => Number(s.attributes['tidings.delivery.attempt']);
    const flakySpans = (await sdk.waitForSpans(billing(flaky.id), 2)).sort((a, b) => attempt(a) - attempt(b));
    const poisonSpans = (await sdk.waitForSpans(billing(poison.id), 2)).sort(
      (a, b) => attempt(a) - attempt(b),
    );
    const [audit] = await sdk.waitForSpans(
      (s) => byId(poison.id)(s) && s.attributes['messaging.consumer.group.name'] === 'dlq-audit',
    );

    const [failed, retried] = flakySpans;
    expect(failed!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'card declined 1' });
    expect(failed!.events.map((e) => e.name)).toEqual(['exception', 'tidings.retry_scheduled']);
    expect(failed!.events[1]!.attributes).toEqual({
      'tidings.retry.delay_ms': 100,
      'tidings.retry.next_attempt': 2,
    });
    expect(retried!.attributes).toMatchObject({ 'tidings.delivery.attempt': 2, 'tidings.settlement': 'ack' });
    const publish = sdk.span('publish order.placed', byId(flaky.id));
    expect(parentOf(failed!)).toBe(spanId(publish));
    expect(parentOf(retried!)).toBe(spanId(publish));

    expect(poisonSpans.map((s) => s.attributes['tidings.settlement'])).toEqual(['retry', 'dead_letter']);
    expect(poisonSpans[1]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(poisonSpans[1]!.events.find((e) => e.name === 'tidings.dead_lettered')?.attributes).toEqual({
      'tidings.dead_letter.reason': 'Error: card declined 2',
      'tidings.dead_letter.destination': 'order.placed.billing.dlq',
    });
    expect(parentOf(audit!)).toBe(spanId(sdk.span('publish order.placed', byId(poison.id))));

    const group = { 'messaging.system': 'rabbitmq', 'messaging.consumer.group.name': 'billing' };
    expect(await sdk.total(METRIC_NAMES.consumed, { ...group, 'tidings.settlement': 'ack' })).toBe(1);
    expect(await sdk.total(METRIC_NAMES.consumed, { ...group, 'tidings.settlement': 'retry' })).toBe(2);
    expect(await sdk.total(METRIC_NAMES.consumed, { ...group, 'tidings.settlement': 'dead_letter' })).toBe(1);
    expect(await sdk.total(METRIC_NAMES.retried, group)).toBe(2);
    expect(await sdk.total(METRIC_NAMES.deadLettered, group)).toBe(1);
    expect(await sdk.total(METRIC_NAMES.latency, group)).toBe(2);
    await bus.stop();
  });
});
