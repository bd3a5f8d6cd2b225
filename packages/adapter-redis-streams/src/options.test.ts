import { ConfigError } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter } from './adapter';
import { claimIdleFor, type RedisStreamsAdapterOptions, resolveOptions } from './options';

function fieldOf(make: () => unknown): string | undefined {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).field;
  }
  return undefined;
}

describe('options', () => {
  it('fill in defaults, keeping a default when undefined is passed (from JavaScript)', () => {
    const resolved = resolveOptions({ maxMessageBytes: undefined } as unknown as RedisStreamsAdapterOptions);
    expect(resolved).toMatchObject({
      connection: 'redis://127.0.0.1:6379',
      clientName: 'tidings',
      maxMessageBytes: 1024 * 1024,
      durable: false,
      trim: undefined,
    });
  });

  it('are refused at construction with an error naming the field', () => {
    expect(fieldOf(() => createRedisStreamsAdapter({ connection: 'http://x' }))).toBe('connection');
    expect(fieldOf(() => createRedisStreamsAdapter({ connection: { keyPrefix: 'app:' } as never }))).toBe(
      'connection.keyPrefix',
    );
    expect(
      fieldOf(() => createRedisStreamsAdapter({ connection: { enableAutoPipelining: true } as never })),
    ).toBe('connection.enableAutoPipelining');
    expect(fieldOf(() => createRedisStreamsAdapter({ clientName: 'has space' }))).toBe('clientName');
    expect(fieldOf(() => createRedisStreamsAdapter({ maxMessageBytes: 0 }))).toBe('maxMessageBytes');
    expect(fieldOf(() => createRedisStreamsAdapter({ maxMessageBytes: 513 * 1024 * 1024 }))).toBe(
      'maxMessageBytes',
    );
    expect(fieldOf(() => createRedisStreamsAdapter({ trim: {} }))).toBe('trim');
    expect(fieldOf(() => createRedisStreamsAdapter({ trim: { maxLength: -1 } }))).toBe('trim.maxLength');
    expect(fieldOf(() => createRedisStreamsAdapter({ claimIdleMs: 1.5 }))).toBe('claimIdleMs');
    expect(
      fieldOf(() => createRedisStreamsAdapter({ waitForReplicas: { replicas: 0, timeoutMs: 10 } })),
    ).toBe('waitForReplicas.replicas');
  });

  it('declare durability and the message limit as given', () => {
    const adapter = createRedisStreamsAdapter({
      durable: true,
      maxMessageBytes: 4096,
      retryPollIntervalMs: 100,
    });
    expect(adapter.capabilities).toMatchObject({
      durable: true,
      maxMessageBytes: 4096,
      delayToleranceMs: 350,
    });
  });

  it('derive the claim idle time from the handler timeout, with a margin', () => {
    const resolved = resolveOptions({});
    expect(claimIdleFor(resolved, 2_000)).toBe(3_000);
    expect(claimIdleFor(resolved, 30_000)).toBe(45_000);
    expect(claimIdleFor(resolved, 0)).toBe(30_000);
    expect(claimIdleFor(resolveOptions({ claimIdleMs: 500 }), 30_000)).toBe(500);
  });
});
