import type { Settlement, SubscribeSpec } from '@tidings/core/adapter';
import { afterEach } from 'vitest';
import { createRedisStreamsAdapter, type RedisStreamsAdapter, type RedisStreamsAdapterOptions } from '../src';
import { adminConnection, deleteKeysMatching, REDIS_URL, uniqueName } from './redis';

export const ACK: Settlement = { type: 'ack' };

/** A subscribe spec with the tests' defaults: a new group starts at the earliest entry. */
export function spec(
  overrides: Partial<SubscribeSpec> & Pick<SubscribeSpec, 'group' | 'topics'>,
): SubscribeSpec {
  return {
    concurrency: 8,
    ordering: 'none',
    startFrom: 'earliest',
    maxAttempts: 10,
    handlerTimeoutMs: 2_000,
    ...overrides,
    prefetch: overrides.prefetch ?? overrides.concurrency ?? 8,
  };
}

/** What a test file gets from {@link useTestKit}. */
export interface TestKit {
  /** A new adapter on the test server, closed after the test. */
  adapter(options?: RedisStreamsAdapterOptions): RedisStreamsAdapter;
  /** A topic and a group no other run uses; their keys are deleted after the test. */
  names(label: string): { topic: string; group: string };
  /** A plain connection for the test's own checks, closed after the test. */
  redis(): Promise<ReturnType<typeof adminConnection>>;
}

/** Registers the clean-up of what each test of the file makes (`afterEach`). */
export function useTestKit(): TestKit {
  const adapters: RedisStreamsAdapter[] = [];
  const made: string[] = [];
  let admin: ReturnType<typeof adminConnection> | undefined;

  afterEach(async () => {
    await Promise.all(adapters.splice(0).map((a) => a.close({ signal: AbortSignal.timeout(2_000) })));
    await admin?.quit();
    admin = undefined;
    for (const name of made.splice(0)) await deleteKeysMatching(`*${name}*`);
  });

  return {
    adapter(options = {}) {
      const created = createRedisStreamsAdapter({ connection: REDIS_URL, ...options });
      adapters.push(created);
      return created;
    },
    names(label) {
      const topic = uniqueName(label);
      made.push(topic);
      return { topic, group: `${topic}-group` };
    },
    async redis() {
      admin ??= adminConnection();
      if (admin.status === 'wait') await admin.connect();
      return admin;
    },
  };
}
