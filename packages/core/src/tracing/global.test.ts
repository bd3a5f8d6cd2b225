// The default set-up: the global providers of @opentelemetry/api, with no SDK at first. Kept in a
// file of its own because it registers global providers (vitest isolates test files).
import { metrics, trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import { createTestSdk, parentOf, useAsyncContext } from '../../test/support/otel';
import { createTestBus } from '../testing/harness';
import { METRIC_NAMES } from './names';

const restoreContext = useAsyncContext();
const sdk = createTestSdk();
afterAll(async () => {
  trace.disable();
  metrics.disable();
  restoreContext();
  await sdk.shutdown();
});

describe('the global OpenTelemetry providers', () => {
  it('record nothing without an SDK, and pick up one registered after the bus was made', async () => {
    const bus = createTestBus();
    const traceparents: (string | undefined)[] = [];
    bus.subscribe(OrderPlaced, { group: 'g' }, (event) => {
      traceparents.push(event.traceparent);
    });
    await bus.start();
    const first = await bus.publish(OrderPlaced, order('before'));
    await bus.waitFor({ id: first.id, outcome: 'handled' });
    expect(traceparents).toEqual([undefined]);

    // Spans go through the API's proxy, so registering now is enough; the meter is looked up
    // again at start().
    trace.setGlobalTracerProvider(sdk.tracerProvider);
    metrics.setGlobalMeterProvider(sdk.meterProvider);
    const second = await bus.publish(OrderPlaced, order('after'));
    await bus.waitFor({ id: second.id, outcome: 'handled' });
    expect(traceparents[1]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(parentOf(sdk.span('process order.placed'))).toBe(
      sdk.span('publish order.placed').spanContext().spanId,
    );
    await bus.stop();

    const later = createTestBus();
    later.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await later.start();
    const third = await later.publish(OrderPlaced, order('metered'));
    await later.waitFor({ id: third.id, outcome: 'handled' });
    await later.stop();
    expect(await sdk.total(METRIC_NAMES.sent)).toBe(1);
    expect(await sdk.total(METRIC_NAMES.consumed, { 'tidings.settlement': 'ack' })).toBe(1);
  });
});
