import { afterEach, describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import { delegatingAdapter } from '../../test/support/delegating-adapter';
import { recordingLogger } from '../../test/support/logger';
import type { AdapterSubscription, BrokerAdapter, SettlementObserver } from '../adapters/contract';
import { createMemoryAdapter } from '../adapters/memory/adapter';
import { createBus } from '../bus/bus';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A memory adapter whose dead-letter reports the test holds back, as a broker that takes its time
 * to confirm the dead letter.
 */
function slowReportingAdapter() {
  const held: (() => void)[] = [];
  const inner = createMemoryAdapter();
  const subscribe: BrokerAdapter['subscribe'] = (spec, handler, observer) =>
    inner.subscribe(spec, handler, {
      deadLettered: (record, landed) => {
        held.push(() => observer?.deadLettered(record, landed));
      },
      settlementFailed: (record, settlement, error) => observer?.settlementFailed(record, settlement, error),
    });
  return { adapter: delegatingAdapter(inner, { subscribe }), held };
}

describe('what the bus says about failures is true, bounded and free of secrets', () => {
  it('says "dead-lettered" only once the adapter reports the dead letter stored', async () => {
    const logger = recordingLogger();
    const { adapter, held } = slowReportingAdapter();
    const bus = createBus({ source: 'test', adapter, logger });
    stops.push(() => bus.stop());
    bus.subscribe(OrderPlaced, { group: 'g', retry: false }, () => {
      throw new Error('boom');
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('o-1'));
    await until(() => held.length === 1);
    expect(logger.lines.filter((line) => line.message.includes('dead-lettered'))).toEqual([]);
    held[0]!();
    const dead = logger.lines.filter((line) => line.message.includes('dead-lettered'));
    expect(dead.map((line) => line.message)).toEqual([
      'event dead-lettered to order.placed.g.dlq: Error: boom',
    ]);
    // The fields of the delivery travel with it: the error, the attempt, the event id.
    expect(dead[0]!.fields).toMatchObject({
      group: 'g',
      attempt: 1,
      eventType: 'order.placed',
      reason: 'Error: boom',
    });
    expect(dead[0]!.fields.err).toMatchObject({ message: 'boom' });
  });

  it('logs a settlement the adapter could not apply, and shows it in health', async () => {
    const logger = recordingLogger();
    const inner = createMemoryAdapter();
    let observer: SettlementObserver | undefined;
    const subscribe: BrokerAdapter['subscribe'] = (spec, handler, given) => {
      observer = given;
      return inner.subscribe(spec, async (record) => {
        const settlement = await handler(record);
        if (settlement.type === 'deadLetter') {
          given?.settlementFailed(record, settlement, new Error('MESSAGE_TOO_LARGE: the broker refused it'));
          return { type: 'retry', delayMs: 60_000, headers: {} } as const;
        }
        return settlement;
      });
    };
    const adapter = delegatingAdapter(inner, { subscribe });
    const bus = createBus({ source: 'test', adapter, logger });
    stops.push(() => bus.stop());
    const subscription = bus.subscribe(OrderPlaced, { group: 'g', retry: false }, () => {
      throw new Error('boom');
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('o-1'));
    await until(() => logger.lines.some((line) => line.message.includes('could not be stored')));
    expect(observer).toBeDefined();
    const line = logger.lines.find((l) => l.message.includes('could not be stored'))!;
    expect(line.level).toBe('error');
    expect(line.message).toBe(
      'dead letter to order.placed.g.dlq could not be stored; the broker keeps the event and it comes back: MESSAGE_TOO_LARGE: the broker refused it',
    );
    expect(logger.lines.some((l) => l.message.includes('dead-lettered'))).toBe(false);
    expect(subscription.health().lastError?.message).toBe('MESSAGE_TOO_LARGE: the broker refused it');
  });

  it('shows an adapter subscription error in health while the subscription is running', async () => {
    const inner = createMemoryAdapter();
    let failing: AdapterSubscription | undefined;
    const subscribe: BrokerAdapter['subscribe'] = async (spec, handler) => {
      const subscription = await inner.subscribe(spec, handler);
      failing = Object.create(subscription, {
        lastError: { get: () => new Error('fetch failed: redis://app:s3cret@cache:6379 refused') },
        state: { get: () => 'running' },
      }) as AdapterSubscription;
      return failing;
    };
    const adapter = delegatingAdapter(inner, { subscribe });
    const bus = createBus({ source: 'test', adapter });
    stops.push(() => bus.stop());
    const subscription = bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    const health = subscription.health();
    expect(health.state).toBe('running');
    expect(health.lastError?.message).toBe('fetch failed: redis://app:***@cache:6379 refused');
    expect(JSON.stringify(bus.health())).not.toContain('s3cret');
  });

  it('bounds every line a poison record with a 100 KB type makes, and the dead letter it writes', async () => {
    const logger = recordingLogger();
    const inner = createMemoryAdapter();
    const bus = createBus({ source: 'test', adapter: inner, logger });
    stops.push(() => bus.stop());
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    const type = 't'.repeat(100_000);
    await inner.publish([
      {
        topic: 'order.placed',
        key: undefined,
        headers: { ce_id: 'i'.repeat(50_000), ce_type: type, ce_specversion: '1.0', ce_source: 's' },
        body: Buffer.from('{}'),
      },
    ]);
    await until(() => logger.lines.some((line) => line.message.includes('dead-lettered')));
    for (const line of logger.lines) {
      const size =
        line.message.length +
        JSON.stringify(line.fields, (_k, v) =>
          v instanceof Error ? { message: v.message, stack: v.stack } : v,
        ).length;
      expect(size, line.message.slice(0, 80)).toBeLessThan(12_000);
    }
    const dead = logger.lines.find((line) => line.message.includes('dead-lettered'))!;
    expect(dead.message).toMatch(/UnknownEventTypeError: unknown event type "t+…\(100000 chars\)"/);
    expect(String(dead.fields.reason).length).toBeLessThanOrEqual(1_000);
  });

  it('redacts URL credentials in what a handler error says', async () => {
    const logger = recordingLogger();
    const bus = createBus({ source: 'test', logger });
    stops.push(() => bus.stop());
    const subscription = bus.subscribe(OrderPlaced, { group: 'g', retry: false }, () => {
      throw new Error('cannot reach postgres://billing:hunter2@db:5432/billing');
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('o-1'));
    await until(() => logger.lines.some((line) => line.message.includes('dead-lettered')));
    const everything = JSON.stringify(
      logger.lines.map((line) => ({
        ...line,
        err: (line.fields.err as Error | undefined)?.message,
        stack: (line.fields.err as Error | undefined)?.stack,
      })),
    );
    expect(everything).not.toContain('hunter2');
    expect(everything).toContain('postgres://billing:***@db:5432/billing');
    expect(JSON.stringify(subscription.health())).not.toContain('hunter2');
  });

  it('logs a client error a handler let through without what its client attached', async () => {
    const logger = recordingLogger();
    const bus = createBus({ source: 'test', logger });
    stops.push(() => bus.stop());
    bus.subscribe(OrderPlaced, { group: 'g', retry: false }, () => {
      throw Object.assign(new Error('WRONGPASS invalid username-password pair'), {
        code: 'WRONGPASS',
        command: { name: 'auth', args: ['hunter2'] },
      });
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('o-1'));
    await until(() => logger.lines.some((line) => line.message.includes('dead-lettered')));
    const dead = logger.lines.find((line) => line.message.includes('dead-lettered'))!;
    const err = dead.fields.err as Error & { code?: string; command?: unknown };
    expect(err.message).toBe('WRONGPASS invalid username-password pair');
    expect(err.code).toBe('WRONGPASS');
    expect(err.command).toBeUndefined();
  });
});
