import { describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import { NonRetryableError } from '../errors';
import type { Middleware } from '../middleware/types';
import { createTestBus } from '../testing/harness';

describe('handler failures', () => {
  it('retries with backoff and succeeds, the attempt rising from the record', async () => {
    const bus = createTestBus();
    const attempts: number[] = [];
    bus.subscribe(
      OrderPlaced,
      { group: 'flaky', retry: { maxAttempts: 5, initialDelayMs: 5, jitter: 0 } },
      (_event, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
      },
    );
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o'));
    await bus.waitFor({ id, outcome: 'handled' });
    expect(attempts).toEqual([1, 2, 3]);
    expect(bus.deliveries.filter((d) => d.outcome === 'retried').map((d) => d.delayMs)).toEqual([5, 10]);
    await bus.stop();
  });

  it('dead-letters after the last attempt with the failure metadata', async () => {
    const bus = createTestBus();
    bus.subscribe(OrderPlaced, { group: 'email', retry: { maxAttempts: 3, initialDelayMs: 1 } }, () => {
      throw new Error('mailer down');
    });
    const letters: Record<string, string>[] = [];
    bus.subscribe(
      OrderPlaced,
      { group: 'dlq', topic: bus.deadLetterTopicOf(OrderPlaced, 'email') },
      (_event, ctx) => {
        letters.push({ ...ctx.record.headers });
      },
    );
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o'));
    await bus.waitFor({ group: 'dlq', outcome: 'handled' });
    expect(letters[0]).toMatchObject({
      ce_id: id,
      'tidings-dlq-reason': 'Error: mailer down',
      'tidings-dlq-attempts': '3',
      'tidings-dlq-original-topic': 'order.placed',
      'tidings-dlq-group': 'email',
    });
    const first = Date.parse(letters[0]!['tidings-dlq-first-failure-at']!);
    const last = Date.parse(letters[0]!['tidings-dlq-last-failure-at']!);
    expect(last).toBeGreaterThanOrEqual(first);
    await bus.stop();
  });

  it('lets a single-attempt reader consume dead letters that went through retries', async () => {
    const bus = createTestBus();
    bus.subscribe(OrderPlaced, { group: 'email', retry: { maxAttempts: 3, initialDelayMs: 1 } }, () => {
      throw new Error('mailer down');
    });
    bus.subscribe(
      OrderPlaced,
      { group: 'dlq-monitor', topic: bus.deadLetterTopicOf(OrderPlaced, 'email'), retry: false },
      () => undefined,
    );
    await bus.start();
    await bus.publish(OrderPlaced, order('o'));
    const [read] = await bus.waitFor({ group: 'dlq-monitor' });
    expect(read!.outcome).toBe('handled');
    expect(read!.attempt).toBe(1);
    await bus.stop();
  });

  it('sends a NonRetryableError straight to the dead-letter topic', async () => {
    const bus = createTestBus();
    bus.subscribe(OrderPlaced, { group: 'billing' }, () => {
      throw new NonRetryableError('customer does not exist');
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('o'));
    const [dead] = await bus.waitFor({ outcome: 'deadLettered' });
    expect(dead!.attempt).toBe(1);
    expect(dead!.reason).toBe('NonRetryableError: customer does not exist');
    await bus.stop();
  });

  it('times a slow handler out, retries it, then dead-letters it', async () => {
    const bus = createTestBus();
    bus.subscribe(
      OrderPlaced,
      { group: 'slow', timeoutMs: 30, retry: { maxAttempts: 2, initialDelayMs: 1 } },
      (_e, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)),
    );
    await bus.start();
    await bus.publish(OrderPlaced, order('o'));
    const [dead] = await bus.waitFor({ outcome: 'deadLettered' });
    expect(dead!.reason).toMatch(/TimeoutError: handler for order.placed took longer than 30 ms/);
    expect(bus.deliveries.map((d) => d.outcome)).toEqual(['retried', 'deadLettered']);
    await bus.stop();
  });

  it('does not let a failing record hold back the records of other keys', async () => {
    const bus = createTestBus();
    bus.subscribe(
      OrderPlaced,
      { group: 'g', retry: { maxAttempts: 3, initialDelayMs: 200, jitter: 0 } },
      (event) => {
        if (event.data.orderId === 'bad') throw new Error('bad');
      },
    );
    await bus.start();
    await bus.publish(OrderPlaced, order('bad'));
    for (let i = 0; i < 10; i++) await bus.publish(OrderPlaced, order(`good-${i}`));
    const good = await bus.waitFor({ outcome: 'handled' }, { count: 10 });
    expect(good.every((d) => (d.data as { orderId: string }).orderId.startsWith('good'))).toBe(true);
    expect(bus.deliveries.filter((d) => d.outcome === 'retried')).toHaveLength(1);
    await bus.stop();
  });

  it('retries, then dead-letters, an error thrown by outer middleware', async () => {
    let calls = 0;
    const broken: Middleware = async () => {
      calls++;
      throw new Error('tracing exporter bug');
    };
    const bus = createTestBus({
      middleware: [broken],
      subscriptionDefaults: { retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 } },
    });
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    await bus.publish(OrderPlaced, order('o'));
    const dead = await bus.waitFor({ outcome: 'deadLettered' });
    expect(dead[0]!.error?.message).toBe('tracing exporter bug');
    expect(calls).toBe(2);
    const health = bus.health().subscriptions[0]!;
    expect(health.lastError?.message).toBe('tracing exporter bug');
    await bus.stop();
  });
});
