// What a team sees once it adds an OpenTelemetry SDK: one trace per order, from the outbox write
// in the request to every consumer, through the relay and the events the consumers publish. The
// example does nothing special for it; this checks that nothing in it breaks the chain.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerEnvironments, uniqueName } from './support/environments';
import { startTestSystem, type TestSystem } from './support/system';

describe('tracing', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let run: TestSystem;

  beforeAll(async () => {
    // What the NodeSDK does: a context manager (so a handler's work is inside its process span)
    // and a global tracer provider. Registered before the bus starts, which is when it looks.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(provider);
    const namespace = uniqueName('trace');
    run = await startTestSystem({
      broker: brokerEnvironments.memory.config(namespace),
      topicPrefix: `${namespace}.`,
    });
  });
  afterAll(async () => {
    await run.system.stop();
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  it('gives each order one trace, from the outbox write to the status change', async () => {
    const customers = ['ada@example.com', 'grace@example.com', 'linus@example.com'];
    const ids = await Promise.all(
      customers.map(async (customerEmail) => {
        const response = await fetch(`${run.url}/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ customerEmail, lines: [{ sku: 'tea-tin', quantity: 1 }] }),
        });
        return ((await response.json()) as { orderId: string }).orderId;
      }),
    );
    const placed = new Set(ids);
    await run.recorder.waitFor((a) => a.kind === 'order.shipped' && placed.has(a.orderId), placed.size);
    await run.recorder.waitFor(
      (a) => a.kind === 'analytics.tracked' && a.name === 'order shipped' && placed.has(a.orderId),
      placed.size,
    );
    await run.recorder.waitFor((a) => a.kind === 'email.sent' && placed.has(a.orderId), placed.size);
    await provider.forceFlush();

    // The relay's `publish` span of OrderPlaced joins the order's trace when its batch held one
    // order, and links to each order's trace when it held several; every other span belongs to
    // exactly one order's trace.
    const isRelayPublish = (name: string): boolean => /^publish \S*shop\.order\.placed$/.test(name);
    const traces = new Map<string, string[]>();
    for (const span of exporter.getFinishedSpans()) {
      if (isRelayPublish(span.name)) continue;
      const group = span.attributes['messaging.consumer.group.name'];
      const label = group === undefined ? span.name.split(' ')[0]! : `process:${String(group).split('.')[1]}`;
      traces.set(span.spanContext().traceId, [...(traces.get(span.spanContext().traceId) ?? []), label]);
    }
    const relayed = exporter.getFinishedSpans().filter((span) => isRelayPublish(span.name));
    expect(relayed.length).toBeGreaterThan(0);
    for (const span of relayed) {
      const reaches = [span.spanContext().traceId, ...span.links.map((link) => link.context.traceId)];
      expect(reaches.some((traceId) => traces.has(traceId))).toBe(true);
    }
    expect(traces.size).toBe(placed.size);
    for (const labels of traces.values()) {
      expect(labels.sort()).toEqual(
        [
          'create', // OrderPlaced, written to the outbox in the request
          'process:analytics', // OrderPlaced
          'process:analytics', // ShipmentPrepared
          'process:email-confirmation',
          'process:fulfilment',
          'process:order-status',
          'publish', // ShipmentPrepared, by the fulfilment consumer
        ].sort(),
      );
    }
  });
});
