import { describe, expect, it } from 'vitest';
import { testContext } from '../../test/support/contexts';
import { createMemoryIdempotencyStore } from '../idempotency/memory-store';
import { DuplicateInProgressError, idempotency } from './idempotency';

function eventContext(id: string) {
  const ctx = testContext();
  ctx.event = {
    id,
    type: 'order.placed',
    source: 's',
    time: undefined,
    subject: undefined,
    key: undefined,
    version: 1,
    correlationId: undefined,
    causationId: undefined,
    traceparent: undefined,
    tracestate: undefined,
    dataschema: undefined,
    extensions: {},
    data: {},
  };
  return ctx;
}

describe('idempotent-consumer policy', () => {
  it('runs the handler once and skips later deliveries of the same event', async () => {
    const policy = idempotency({ store: createMemoryIdempotencyStore() });
    let runs = 0;
    const handler = async () => {
      runs++;
    };
    const first = eventContext('e-1');
    await policy(first, handler);
    const again = eventContext('e-1');
    await policy(again, handler);
    expect(runs).toBe(1);
    expect(first.duplicate).toBe(false);
    expect(again.duplicate).toBe(true);
    await policy(eventContext('e-2'), handler);
    expect(runs).toBe(2);
  });

  it('handles concurrent duplicates once: the others fail retryably and are skipped later', async () => {
    const policy = idempotency({ store: createMemoryIdempotencyStore() });
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = async () => {
      runs++;
      await gate;
    };
    const deliveries = Array.from({ length: 10 }, () =>
      policy(eventContext('dup'), slow).then(
        () => 'ok',
        (e: unknown) => e,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    const outcomes = await Promise.all(deliveries);
    expect(runs).toBe(1);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
    const rejected = outcomes.filter((o) => o instanceof DuplicateInProgressError);
    expect(rejected).toHaveLength(9);
    expect((rejected[0] as DuplicateInProgressError).retryable).toBe(true);
    // Their retries come back after the first one finished: skipped.
    const retried = eventContext('dup');
    await policy(retried, slow);
    expect(retried.duplicate).toBe(true);
    expect(runs).toBe(1);
  });

  it('releases the claim when the handler fails, so a redelivery runs it again', async () => {
    const policy = idempotency({ store: createMemoryIdempotencyStore() });
    await expect(
      policy(eventContext('e'), async () => {
        throw new Error('first try fails');
      }),
    ).rejects.toThrow('first try fails');
    let ran = false;
    await policy(eventContext('e'), async () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });

  it('keys by group and event id by default, or by a key function', async () => {
    const store = createMemoryIdempotencyStore();
    const claims: string[] = [];
    const spying = {
      ...store,
      claim: (key: string, lease: number) => {
        claims.push(key);
        return store.claim(key, lease);
      },
    };
    await idempotency({ store: spying })(eventContext('abc'), async () => undefined);
    await idempotency({ store: spying, key: (ctx) => `custom:${ctx.event?.id}` })(
      eventContext('abc'),
      async () => undefined,
    );
    expect(claims).toEqual(['billing:abc', 'custom:abc']);
  });
});

describe('memory idempotency store', () => {
  it('expires claims and done marks after their time', async () => {
    let now = 1_000;
    const store = createMemoryIdempotencyStore({ now: () => now });
    expect(await store.claim('k', 100)).toBe('claimed');
    expect(await store.claim('k', 100)).toBe('busy');
    now += 101;
    expect(await store.claim('k', 100)).toBe('claimed');
    await store.complete('k', 500);
    expect(await store.claim('k', 100)).toBe('done');
    now += 501;
    expect(await store.claim('k', 100)).toBe('claimed');
  });

  it('stays within its bound, forgetting the oldest keys first', async () => {
    const store = createMemoryIdempotencyStore({ maxEntries: 3 });
    for (const key of ['a', 'b', 'c', 'd']) await store.complete(key, 60_000);
    expect(store.size).toBe(3);
    expect(await store.claim('a', 100)).toBe('claimed');
    expect(await store.claim('d', 100)).toBe('done');
  });

  it('sweeps expired keys as it goes', async () => {
    let now = 0;
    const store = createMemoryIdempotencyStore({ now: () => now });
    for (let i = 0; i < 100; i++) await store.complete(`k${i}`, 10);
    now = 100;
    for (let i = 0; i < 20; i++) await store.claim(`fresh${i}`, 1_000);
    expect(store.size).toBeLessThan(100);
  });
});
