import { createBus, createMemoryAdapter, createMemoryBroker, defineEvent } from '@tidings/core';
import { createTestBus } from '@tidings/core/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisIdempotencyStore } from '../src';
import { REDIS_URL, uniqueName } from './redis';
import { waitUntil } from './wait';

const prefix = `${uniqueName('idempotency')}:`;
const Tick = defineEvent({
  type: 'test.tick',
  topic: uniqueName('ticks'),
  schema: { type: 'object', properties: { seq: { type: 'integer' } }, required: ['seq'] } as const,
});
let redis: Redis;
let cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new Error(
      `Redis is not reachable at ${REDIS_URL} (${(error as Error).message}). ` +
        'Start it with `bash tools/services.sh` from the repository root, or set TIDINGS_REDIS_URL.',
    );
  }
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

afterAll(async () => {
  if (redis === undefined || redis.status !== 'ready') return;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
});

describe('Redis idempotency store', () => {
  it('claims with SET NX PX, and tells done from busy', async () => {
    const store = createRedisIdempotencyStore({ redis, prefix });
    expect(await store.claim('g:e-1', 60_000)).toBe('claimed');
    const ttl = await redis.pttl(`${prefix}g:e-1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await store.claim('g:e-1', 60_000)).toBe('busy');
    await store.release('g:e-1');
    expect(await redis.exists(`${prefix}g:e-1`)).toBe(0);
    expect(await store.claim('g:e-1', 60_000)).toBe('claimed');
    await store.complete('g:e-1', 120_000);
    expect(await redis.get(`${prefix}g:e-1`)).toBe('done');
    expect(await redis.pttl(`${prefix}g:e-1`)).toBeGreaterThan(60_000);
    expect(await store.claim('g:e-1', 60_000)).toBe('done');
    // A release after complete leaves the done mark alone.
    await store.release('g:e-1');
    expect(await store.claim('g:e-1', 60_000)).toBe('done');
  });

  it("never deletes another consumer's claim after its own lease ran out", async () => {
    const first = createRedisIdempotencyStore({ redis, prefix });
    const second = createRedisIdempotencyStore({ redis, prefix });
    expect(await first.claim('g:e-2', 60_000)).toBe('claimed');
    // The lease runs out (as PX would make it) and another consumer takes the key.
    await redis.del(`${prefix}g:e-2`);
    expect(await second.claim('g:e-2', 60_000)).toBe('claimed');
    await first.release('g:e-2');
    expect(await second.claim('g:e-2', 60_000)).toBe('busy');
  });

  it('loads its scripts again when the server has forgotten them', async () => {
    let evalCalls = 0;
    // A server that knows no script (restarted, or SCRIPT FLUSH): every EVALSHA fails.
    const forgetful = new Proxy(redis, {
      get(target, property, receiver) {
        if (property === 'callBuffer') {
          return (command: string, ...args: (string | Buffer | number)[]) => {
            if (command === 'evalsha') return Promise.reject(new Error('NOSCRIPT No matching script.'));
            if (command === 'eval') evalCalls++;
            return target.callBuffer(command, ...args);
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });
    const store = createRedisIdempotencyStore({ redis: forgetful, prefix });
    expect(await store.claim('g:e-3', 60_000)).toBe('claimed');
    await store.release('g:e-3');
    expect(evalCalls).toBe(2);
    expect(await redis.exists(`${prefix}g:e-3`)).toBe(0);
  });

  it('deduplicates across consumers through the idempotency option of the bus', async () => {
    const broker = createMemoryBroker();
    const handled: string[] = [];
    for (const name of ['one', 'two']) {
      const bus = createBus({ source: name, adapter: createMemoryAdapter({ broker }) });
      cleanups.push(() => bus.stop());
      const store = createRedisIdempotencyStore({ redis, prefix });
      bus.subscribe(Tick, { group: 'mailer', idempotency: store }, (event) => {
        handled.push(event.id);
      });
      await bus.start();
    }
    const publisher = createTestBus({ broker });
    cleanups.push(() => publisher.stop());
    for (let i = 0; i < 4; i++) await publisher.publish(Tick, { seq: 1 }, { id: 'evt-dup' });
    await publisher.publish(Tick, { seq: 2 }, { id: 'evt-last' });
    await waitUntil(() => handled.includes('evt-last'), 10_000, 'the last event is handled');
    expect(handled.filter((id) => id === 'evt-dup')).toHaveLength(1);
  });

  it('needs a client', () => {
    // @ts-expect-error: the client is required
    expect(() => createRedisIdempotencyStore({})).toThrow(/^redis: /);
  });
});
