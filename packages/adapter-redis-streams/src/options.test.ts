import { ConfigError } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter } from './adapter';
import { claimIdleFor, type RedisStreamsAdapterOptions, resolveOptions, secretsOf } from './options';

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
      leaseTtlMs: 5_000,
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
    for (const leaseTtlMs of [0, 999, 600_001, 1.5, '5000']) {
      expect(fieldOf(() => createRedisStreamsAdapter({ leaseTtlMs } as never))).toBe('leaseTtlMs');
    }
    expect(
      fieldOf(() => createRedisStreamsAdapter({ waitForReplicas: { replicas: 0, timeoutMs: 10 } })),
    ).toBe('waitForReplicas.replicas');
  });

  it('take a cluster instead of a connection, checked and with its node secrets redacted', () => {
    expect(() =>
      createRedisStreamsAdapter({ cluster: { nodes: ['127.0.0.1:7000', { host: 'h', port: 7001 }] } }),
    ).not.toThrow();
    expect(fieldOf(() => createRedisStreamsAdapter({ cluster: { nodes: [] } }))).toBe('cluster.nodes');
    expect(fieldOf(() => createRedisStreamsAdapter({ cluster: { nodes: ['redis://:pw@h:1'] } }))).toBe(
      'cluster.nodes[0]',
    );
    expect(fieldOf(() => createRedisStreamsAdapter({ cluster: { nodes: [{ host: 'h', port: 0 }] } }))).toBe(
      'cluster.nodes[0]',
    );
    expect(
      fieldOf(() => createRedisStreamsAdapter({ connection: 'redis://h:1', cluster: { nodes: ['h:1'] } })),
    ).toBe('cluster');
    expect(
      fieldOf(() => createRedisStreamsAdapter({ cluster: { nodes: ['h:1'], scaleReads: 'slave' } as never })),
    ).toBe('cluster.scaleReads');
    expect(
      fieldOf(() =>
        createRedisStreamsAdapter({
          cluster: { nodes: ['h:1'], redisOptions: { keyPrefix: 'x:' } as never },
        }),
      ),
    ).toBe('cluster.redisOptions.keyPrefix');
    const { redact } = resolveOptions({ cluster: { nodes: ['h:1'], redisOptions: { password: 'node-pw' } } });
    expect(redact.text('AUTH node-pw')).toBe('AUTH ***');
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

  it('know the secrets of the connection, and redact them from text and errors', () => {
    expect(secretsOf('redis://:p%40ss@host:6379')).toEqual(['p%40ss', 'p@ss']);
    expect(secretsOf('redis://user:pw@host/0?password=q&sentinelPassword=s')).toEqual(['pw', 'pw', 'q', 's']);
    expect(
      secretsOf({
        host: 'h',
        username: 'app',
        password: 'pw',
        sentinelPassword: 'sp',
        tls: { passphrase: 'tp' },
      }),
    ).toEqual(['pw', 'sp', 'tp']);
    expect(secretsOf(undefined)).toEqual([]);
    const { redact } = resolveOptions({ connection: { password: 'pw-123' } });
    expect(redact.text('AUTH pw-123 failed at redis://:other@h')).toBe('AUTH *** failed at redis://:***@h');
    const raw = Object.assign(new Error('WRONGPASS for pw-123'), {
      command: { name: 'auth', args: ['pw-123'] },
      code: 'X',
    });
    const copy = redact.error(raw);
    expect(copy.message).toBe('WRONGPASS for ***');
    expect((copy as unknown as { code: string }).code).toBe('X');
    expect('command' in copy).toBe(false);
    // A Tidings error keeps its own fields on the copy.
    const config = redact.error(new ConfigError('topics', 'pw-123 is wrong'));
    expect(config).toBeInstanceOf(ConfigError);
    expect((config as ConfigError).field).toBe('topics');
    expect(config.message).toBe('topics: *** is wrong');
  });

  it('never quote the credentials of a connection string they refuse', () => {
    try {
      resolveOptions({ connection: 'http://user:s3cret@host' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cret');
    }
    try {
      resolveOptions({ connection: ':s3cret@host:6379' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cret');
      expect((error as Error).message).toContain('host:6379');
    }
  });
});
