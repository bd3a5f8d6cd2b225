// The order system's contracts on a real Redis, with three consumer groups and two producers,
// each run under topics of its own; and the console over it.
import { randomBytes } from 'node:crypto';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '@tidings/adapter-redis-streams';
import {
  type AnyEventContract,
  type Bus,
  createBus,
  NonRetryableError,
  type Subscription,
} from '@tidings/core';
import { Redis } from 'ioredis';
import { contracts, OrderPlaced, ShipmentPrepared } from '../../../examples/order-system/src/contracts';
import type { ConsoleOptions } from '../src';

export const REDIS_URL = process.env.TIDINGS_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** What a test works with. */
export interface OrderWorld {
  readonly adapter: RedisStreamsAdapter;
  readonly bus: Bus;
  readonly prefix: string;
  readonly options: Omit<ConsoleOptions, 'adapter'>;
  readonly fulfilment: Subscription;
  /** Order ids each group handled. */
  readonly handled: { readonly billing: string[]; readonly fulfilment: string[] };
  /** Billing refuses `bad-` orders (a dead letter) while this is false. */
  billingAccepts: boolean;
  placeOrder(orderId: string): Promise<void>;
  close(): Promise<void>;
}

export function orderOf(orderId: string) {
  return {
    orderId,
    customerEmail: 'ada@example.com',
    lines: [{ sku: 'tea-1', quantity: 2, unitPriceCents: 450 }],
    totalCents: 900,
    paymentId: `pay-${orderId}`,
    reservationId: `res-${orderId}`,
    placedAt: new Date().toISOString(),
  };
}

export async function startOrderWorld(): Promise<OrderWorld> {
  const prefix = `test-console-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const topic = (contract: AnyEventContract) => `${prefix}.${contract.type}`;
  const adapter = createRedisStreamsAdapter({ connection: REDIS_URL });
  const bus = createBus({ source: 'console-test', adapter, topic });
  const handled = { billing: [] as string[], fulfilment: [] as string[] };
  const world = { billingAccepts: false } as { billingAccepts: boolean };
  const subscriptions = [
    { group: 'billing', events: [OrderPlaced] },
    { group: 'fulfilment', events: [OrderPlaced] },
    { group: 'analytics', events: [OrderPlaced, ShipmentPrepared] },
  ];
  bus.subscribe(
    OrderPlaced,
    { group: 'billing', startFrom: 'earliest', retry: { maxAttempts: 1 } },
    (event) => {
      if (event.data.orderId.startsWith('bad-') && !world.billingAccepts) {
        throw new NonRetryableError(`card declined for ${event.data.orderId}`);
      }
      handled.billing.push(event.data.orderId);
    },
  );
  const fulfilment = bus.subscribe(OrderPlaced, { group: 'fulfilment', startFrom: 'earliest' }, (event) => {
    handled.fulfilment.push(event.data.orderId);
  });
  bus.subscribe(
    [OrderPlaced, ShipmentPrepared],
    { group: 'analytics', startFrom: 'earliest' },
    () => undefined,
  );
  await bus.start();
  return Object.assign(world, {
    adapter,
    bus,
    prefix,
    fulfilment,
    handled,
    options: {
      events: contracts,
      subscriptions,
      producers: [
        { name: 'order-service', events: [OrderPlaced] },
        { name: 'warehouse', events: [ShipmentPrepared] },
      ],
      topic,
    },
    async placeOrder(orderId: string) {
      await bus.publish(OrderPlaced, orderOf(orderId));
    },
    async close() {
      await bus.stop();
      await adapter.close({ signal: AbortSignal.timeout(5_000) });
      const redis = new Redis(REDIS_URL, { lazyConnect: true });
      await redis.connect();
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        await redis.quit();
      }
    },
  });
}
