// The operations guide's story (docs/example-order-system.md, "When the email provider is down"):
// an outage dead-letters the confirmations; the provider comes back; `tidings dlq redrive`, run as
// an operator runs it, sends them; every customer gets one email.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerEnvironments, uniqueName } from './support/environments';
import { startTestSystem, type TestSystem } from './support/system';
import { tidings } from './support/tidings';

const ORDERS = 5;

describe('an email provider outage, redriven with the tidings command line', () => {
  const outage = { down: false };
  const namespace = uniqueName('redrive');
  const redis = brokerEnvironments.redis;
  let run: TestSystem;

  beforeAll(async () => {
    await redis.check();
    run = await startTestSystem({
      broker: redis.config(namespace),
      topicPrefix: `${namespace}.`,
      emailOutage: outage,
    });
  });
  afterAll(async () => {
    await run?.system.stop();
    await redis.cleanup(namespace);
  });

  it('dead-letters the confirmations during the outage, and sends each exactly once after the redrive', async () => {
    outage.down = true;
    const customers = Array.from({ length: ORDERS }, (_, i) => `guest${i}@example.com`);
    for (const customerEmail of customers) {
      const response = await fetch(`${run.url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ customerEmail, lines: [{ sku: 'tea-tin', quantity: 1 }] }),
      });
      expect(response.status).toBe(202);
    }
    const emailGroup = `${namespace}.email-confirmation`;
    await run.recorder.waitFor((a) => a.kind === 'dead-letter' && a.group === emailGroup, ORDERS);
    expect(run.email.sent).toHaveLength(0);

    outage.down = false;
    // The same environment as the app: the example's tidings.config.ts reads it.
    const env = { BROKER: 'redis', TOPIC_PREFIX: `${namespace}.`, GROUP_PREFIX: `${namespace}.` };
    const at = ['-t', `${namespace}.shop.order.placed`, '-g', emailGroup];
    const listed = await tidings(['dlq', 'list', ...at], env);
    expect(listed.code).toBe(0);
    expect(listed.out.match(/EmailUnavailableError|unavailable/gi)?.length ?? 0).toBeGreaterThanOrEqual(
      ORDERS,
    );
    const redriven = await tidings(['dlq', 'redrive', ...at], env);
    expect(redriven.out).toContain(`${ORDERS} redriven, 0 missing, 0 refused`);
    expect(redriven.code).toBe(0);

    await run.recorder.waitFor((a) => a.kind === 'email.sent', ORDERS);
    const perCustomer = new Map<string, number>();
    for (const email of run.email.sent) perCustomer.set(email.to, (perCustomer.get(email.to) ?? 0) + 1);
    expect([...perCustomer.keys()].sort()).toEqual([...customers].sort());
    expect([...perCustomer.values()].every((count) => count === 1)).toBe(true);
    const left = await tidings(['dlq', 'list', ...at, '--json'], env);
    expect(JSON.parse(left.out)).toEqual({ letters: [], cursor: null });
  });
});
