import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OrderPlaced, order } from '../../test/support/contracts';
import {
  createTestSdk,
  expectChainedTrace,
  linksOf,
  parentOf,
  type TestSdk,
  useAsyncContext,
} from '../../test/support/otel';
import { batchEntry } from '../context/publish';
import { defineEvent } from '../contracts/define-event';
import { createTestBus, type TestBus } from '../testing/harness';
import { createPreparedPublisher } from './prepared-publisher';
import { parseTraceparent } from './trace-context';

const ShipmentPrepared = defineEvent({
  type: 'shipment.prepared',
  schema: z.object({ orderId: z.string(), carrier: z.string() }),
  key: (data) => data.orderId,
});

let sdk: TestSdk;
let restoreContext: () => void;
const buses: TestBus[] = [];

beforeAll(() => {
  restoreContext = useAsyncContext();
});
afterAll(() => restoreContext());
beforeEach(() => {
  sdk = createTestSdk();
});
afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.stop()));
  await sdk.shutdown();
});

function tracedBus(options: Parameters<typeof createTestBus>[0] = {}): TestBus {
  const bus = createTestBus({
    telemetry: { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider },
    ...options,
  });
  buses.push(bus);
  return bus;
}

const idOf = (span: ReadableSpan) => span.spanContext().spanId;
const traceOf = (span: ReadableSpan) => span.spanContext().traceId;

describe('traces across the broker', () => {
  it('continues the producer trace in the consumer, and a follow-up publish in the handler', async () => {
    const bus = tracedBus();
    const tracer = sdk.tracerProvider.getTracer('app');
    bus.subscribe(OrderPlaced, { group: 'fulfilment' }, async (event, ctx) => {
      // Work the handler does is a child of the process span, as an HTTP or database span would be.
      await tracer.startActiveSpan('reserve stock', async (span) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        span.end();
      });
      await ctx.publish(ShipmentPrepared, { orderId: event.data.orderId, carrier: 'dhl' });
    });
    bus.subscribe(ShipmentPrepared, { group: 'notifications' }, () => undefined);
    await bus.start();

    const published = await tracer.startActiveSpan('place order', async (span) => {
      const result = await bus.publish(OrderPlaced, order('o-1', 42), { correlationId: 'conv-1' });
      span.end();
      return result;
    });
    const { publish, process, followUp } = await expectChainedTrace(sdk, published.id);

    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.destination.name': 'order.placed',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.message.id': published.id,
      'messaging.message.conversation_id': 'conv-1',
      'cloudevents.event_type': 'order.placed',
      'cloudevents.event_source': 'test',
    });
    expect(publish.attributes['messaging.message.body.size']).toBeGreaterThan(0);

    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.status.code).toBe(SpanStatusCode.UNSET);
    expect(process.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.destination.name': 'order.placed',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.consumer.group.name': 'fulfilment',
      'messaging.message.id': published.id,
      'messaging.message.conversation_id': 'conv-1',
      'messaging.message.body.size': publish.attributes['messaging.message.body.size'],
      'cloudevents.event_type': 'order.placed',
      'tidings.delivery.attempt': 1,
      'tidings.settlement': 'ack',
    });
    // ctx.publish carries the conversation on.
    expect(followUp.attributes['messaging.message.conversation_id']).toBe('conv-1');
  });

  it('records a failed attempt, its retry and a dead letter on the process spans', async () => {
    const bus = tracedBus();
    bus.subscribe(
      OrderPlaced,
      { group: 'email', retry: { maxAttempts: 3, initialDelayMs: 5, jitter: 0 } },
      (event, ctx) => {
        if (event.data.orderId === 'poison' || ctx.attempt === 1)
          throw new Error(`mailer down ${ctx.attempt}`);
      },
    );
    await bus.start();
    const flaky = await bus.publish(OrderPlaced, order('flaky'));
    const poison = await bus.publish(OrderPlaced, order('poison'));
    await bus.waitFor({ id: flaky.id, outcome: 'handled' });
    await bus.waitFor({ id: poison.id, outcome: 'deadLettered' });

    const attempts = (id: string) =>
      sdk
        .spans()
        .filter((s) => s.name === 'process order.placed' && s.attributes['messaging.message.id'] === id)
        .sort(
          (a, b) =>
            Number(a.attributes['tidings.delivery.attempt']) -
            Number(b.attributes['tidings.delivery.attempt']),
        );

    const [failed, succeeded] = attempts(flaky.id);
    expect(failed!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'mailer down 1' });
    expect(failed!.attributes).toMatchObject({ 'tidings.settlement': 'retry', 'error.type': 'Error' });
    expect(failed!.events.map((e) => e.name)).toEqual(['exception', 'tidings.retry_scheduled']);
    expect(failed!.events[0]!.attributes).toMatchObject({ 'exception.message': 'mailer down 1' });
    expect(failed!.events[1]!.attributes).toEqual({
      'tidings.retry.delay_ms': 5,
      'tidings.retry.next_attempt': 2,
    });
    expect(succeeded!.attributes).toMatchObject({
      'tidings.delivery.attempt': 2,
      'tidings.settlement': 'ack',
    });
    expect(succeeded!.status.code).toBe(SpanStatusCode.UNSET);
    // Every attempt continues the producer's trace.
    const publish = sdk.span(
      'publish order.placed',
      (s) => s.attributes['messaging.message.id'] === flaky.id,
    );
    expect(parentOf(failed!)).toBe(idOf(publish));
    expect(parentOf(succeeded!)).toBe(idOf(publish));

    const poisonSpans = attempts(poison.id);
    expect(poisonSpans.map((s) => s.attributes['tidings.settlement'])).toEqual([
      'retry',
      'retry',
      'dead_letter',
    ]);
    const last = poisonSpans[2]!;
    expect(last.status.code).toBe(SpanStatusCode.ERROR);
    const deadLetter = last.events.find((e) => e.name === 'tidings.dead_lettered');
    expect(deadLetter?.attributes).toEqual({
      'tidings.dead_letter.reason': 'Error: mailer down 3',
      'tidings.dead_letter.destination': 'order.placed.email.dlq',
    });
  });

  it('gives each event of a batch a create span and links the publish span to them', async () => {
    const bus = tracedBus();
    bus.subscribe(OrderPlaced, { group: 'analytics' }, () => undefined);
    await bus.start();
    const events = await bus.publishBatch([
      batchEntry(OrderPlaced, order('a')),
      batchEntry(OrderPlaced, order('b')),
    ]);
    await bus.waitFor({ group: 'analytics', outcome: 'handled' }, { count: 2 });

    const publish = sdk.span('publish order.placed');
    const creates = sdk.spans().filter((s) => s.name === 'create order.placed');
    expect(publish.kind).toBe(SpanKind.CLIENT);
    expect(publish.attributes).toMatchObject({ 'messaging.batch.message_count': 2 });
    expect(creates.map((s) => s.kind)).toEqual([SpanKind.PRODUCER, SpanKind.PRODUCER]);
    expect(creates.map((s) => s.attributes['messaging.message.id'])).toEqual(events.map((e) => e.id));
    expect(linksOf(publish).map((l) => l.spanId)).toEqual(creates.map(idOf));
    for (const [i, event] of events.entries()) {
      const process = sdk.span(
        'process order.placed',
        (s) => s.attributes['messaging.message.id'] === event.id,
      );
      expect(parentOf(process)).toBe(idOf(creates[i]!));
    }
  });

  it('continues the trace of the request that wrote to the outbox in the relay and the consumer', async () => {
    const bus = tracedBus();
    bus.subscribe(OrderPlaced, { group: 'email' }, () => undefined);
    await bus.start();
    const tracer = sdk.tracerProvider.getTracer('app');
    const { records, events } = await tracer.startActiveSpan('place order', async (span) => {
      const prepared = await bus.prepare([batchEntry(OrderPlaced, order('o-7'))]);
      span.end();
      return prepared;
    });
    // Later, in the relay: no request context is active any more.
    const send = createPreparedPublisher(bus.adapter, {
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
    });
    await send(records);
    await bus.waitFor({ id: events[0]!.id, outcome: 'handled' });

    const request = sdk.span('place order');
    const create = sdk.span('create order.placed');
    const relay = sdk.span('publish order.placed');
    const process = sdk.span('process order.placed');
    expect(parentOf(create)).toBe(idOf(request));
    expect(create.kind).toBe(SpanKind.PRODUCER);
    expect(create.attributes['messaging.operation.type']).toBe('create');
    expect(traceOf(relay)).toBe(traceOf(request));
    expect(parentOf(relay)).toBe(idOf(create));
    expect(linksOf(relay).map((l) => l.spanId)).toEqual([idOf(create)]);
    expect(relay.attributes['messaging.message.id']).toBe(events[0]!.id);
    expect(parentOf(process)).toBe(idOf(create));
    expect(
      await sdk.total('messaging.client.sent.messages', { 'messaging.destination.name': 'order.placed' }),
    ).toBe(1);
  });

  it('keeps a creation context the caller set, and links the publish span to it', async () => {
    const bus = tracedBus();
    bus.subscribe(OrderPlaced, { group: 'audit' }, () => undefined);
    await bus.start();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const { id } = await bus.publish(OrderPlaced, order('o-9'), { traceparent, tracestate: 'vendor=1' });
    await bus.waitFor({ id, outcome: 'handled' });

    const publish = sdk.span('publish order.placed');
    const process = sdk.span('process order.placed');
    expect(publish.kind).toBe(SpanKind.CLIENT);
    expect(linksOf(publish).map((l) => l.spanId)).toEqual(['b7ad6b7169203331']);
    expect(traceOf(process)).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(parentOf(process)).toBe('b7ad6b7169203331');
    expect(process.spanContext().traceState?.get('vendor')).toBe('1');
  });

  it('starts a new trace for a record with a malformed traceparent, and still handles it', async () => {
    const bus = tracedBus({
      // Publish middleware runs after the tracing, so it can spoil what the tracing wrote.
      publishMiddleware: [
        async (ctx, next) => {
          for (const draft of ctx.drafts) draft.traceparent = '00-not-a-trace-context-01';
          await next();
        },
      ],
    });
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o'));
    await bus.waitFor({ id, outcome: 'handled' });
    const process = sdk.span('process order.placed');
    expect(parentOf(process)).toBeUndefined();
    expect(linksOf(process)).toEqual([]);
  });

  it('records nothing and writes no trace context when telemetry is off', async () => {
    const bus = tracedBus({ telemetry: false });
    let traceparent: string | undefined = 'unset';
    bus.subscribe(OrderPlaced, { group: 'g' }, (event) => {
      traceparent = event.traceparent;
      expect(trace.getActiveSpan()).toBeUndefined();
    });
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o'));
    await bus.waitFor({ id, outcome: 'handled' });
    expect(traceparent).toBeUndefined();
    expect(sdk.spans()).toEqual([]);
    expect(await sdk.points('messaging.client.consumed.messages')).toEqual([]);
  });

  it('publishes and handles events when the tracer itself fails', async () => {
    const broken = {
      getTracer: () => ({
        startSpan: () => {
          throw new Error('tracer is broken');
        },
        startActiveSpan: () => {
          throw new Error('tracer is broken');
        },
      }),
    };
    const bus = tracedBus({ telemetry: { tracerProvider: broken } });
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o'));
    await bus.waitFor({ id, outcome: 'handled' });
    await bus.prepare([batchEntry(OrderPlaced, order('p'))]);
  });

  it('writes the W3C trace context into the envelope', async () => {
    const bus = tracedBus();
    let header: string | undefined;
    bus.subscribe(OrderPlaced, { group: 'g' }, (_event, ctx) => {
      header = ctx.record.headers.ce_traceparent;
    });
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o'));
    await bus.waitFor({ id, outcome: 'handled' });
    const publish = sdk.span('publish order.placed');
    expect(header).toBe(`00-${traceOf(publish)}-${idOf(publish)}-01`);
    expect(parseTraceparent(header, undefined)).toMatchObject({ spanId: idOf(publish), isRemote: true });
  });
});

describe('traces of batch subscriptions', () => {
  it('keeps a process span per event, with its own trace and settlement, and runs the handler in none', async () => {
    const bus = tracedBus({ subscriptionDefaults: { retry: { maxAttempts: 1 } } });
    const tracer = sdk.tracerProvider.getTracer('app');
    bus.subscribeBatch(OrderPlaced, { group: 'index', batch: { maxWaitMs: 5 } }, async (events, batch) => {
      await tracer.startActiveSpan('bulk', async (span) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        span.end();
      });
      batch.fail(events[1]!, new Error('rejected'));
    });
    await bus.start();
    const [good, bad] = await bus.publishBatch([
      batchEntry(OrderPlaced, order('a')),
      batchEntry(OrderPlaced, order('b')),
    ]);
    const spans = await sdk.waitForSpans((s) => s.name === 'process order.placed', 2);
    const spanOf = (id: string) => spans.find((s) => s.attributes['messaging.message.id'] === id)!;
    expect(spanOf(good!.id).attributes['tidings.settlement']).toBe('ack');
    expect(spanOf(bad!.id).attributes['tidings.settlement']).toBe('dead_letter');
    // Each event continues the trace its own publish began.
    for (const { id } of [good!, bad!]) {
      const publish = sdk.span('create order.placed', (s) => s.attributes['messaging.message.id'] === id);
      expect(traceOf(spanOf(id))).toBe(traceOf(publish));
    }
    const bulk = sdk.span('bulk');
    expect(parentOf(bulk)).toBeUndefined();
    expect(spans.map(traceOf)).not.toContain(traceOf(bulk));
  });
});
