// The point of the outbox: the shop keeps taking orders while the broker is unreachable, says so
// on /health, and the events go out once the broker is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Outage, withOutage } from './support/chaos-adapter';
import { brokerEnvironments, uniqueName } from './support/environments';
import { startTestSystem, type TestSystem } from './support/system';

describe('a broker outage', () => {
  const outage: Outage = { down: false };
  let run: TestSystem;

  beforeAll(async () => {
    const namespace = uniqueName('outage');
    run = await startTestSystem({
      broker: brokerEnvironments.memory.config(namespace),
      topicPrefix: `${namespace}.`,
      decorateAdapter: (adapter) => withOutage(adapter, outage),
    });
  });
  afterAll(() => run.system.stop());

  it('still takes orders, reports degraded, and delivers once the broker is back', async () => {
    outage.down = true;
    const response = await fetch(`${run.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerEmail: 'ada@example.com', lines: [{ sku: 'tea-tin', quantity: 1 }] }),
    });
    expect(response.status).toBe(202);
    const { orderId } = (await response.json()) as { orderId: string };

    await run.recorder.waitFor((a) => a.kind === 'relay.error');
    const degraded = await fetch(`${run.url}/health`);
    expect(degraded.status).toBe(200);
    const health = (await degraded.json()) as { status: string; storage: { outbox: { pending: number } } };
    expect(health.status).toBe('degraded');
    expect(health.storage.outbox.pending).toBe(1);
    expect(run.recorder.entries.some((a) => a.kind === 'order.shipped')).toBe(false);

    outage.down = false;
    await run.recorder.waitFor((a) => a.kind === 'order.shipped' && a.orderId === orderId);
    const order = (await (await fetch(`${run.url}/orders/${orderId}`)).json()) as { status: string };
    expect(order.status).toBe('shipped');
    const recovered = (await (await fetch(`${run.url}/health`)).json()) as { status: string };
    expect(recovered.status).toBe('up');
  });
});
