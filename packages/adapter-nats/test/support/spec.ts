import type { SubscribeSpec } from '@tidings/core/adapter';
import { uniqueName } from './nats';

/** A subscribe spec with a group of its own and the tests' defaults. */
export function subscribeSpec(topic: string, overrides: Partial<SubscribeSpec> = {}): SubscribeSpec {
  return {
    group: uniqueName('g'),
    topics: [topic],
    concurrency: 8,
    prefetch: overrides.concurrency ?? 8,
    ordering: 'none',
    startFrom: 'earliest',
    maxAttempts: 10,
    handlerTimeoutMs: 5_000,
    ...overrides,
  };
}
