import { randomUUID } from 'node:crypto';
import type { ClaimResult, IdempotencyStore } from '@tidings/core';
import { ConfigError } from '@tidings/core/adapter';
import type { Cluster, Redis } from 'ioredis';
import { asText } from './replies';
import { LuaScript } from './scripts';

/**
 * Settings of {@link createRedisIdempotencyStore}.
 *
 * @example
 * ```ts
 * const options: RedisIdempotencyStoreOptions = { redis: new Redis(process.env.REDIS_URL!), prefix: 'orders:seen:' };
 * ```
 */
export interface RedisIdempotencyStoreOptions {
  /** A connected (or lazily connecting) ioredis client or cluster. The store never closes it. */
  readonly redis: Redis | Cluster;
  /** Prefix of every key the store writes. Default `tidings:idempotency:`. */
  readonly prefix?: string;
}

// SET NX PX takes a free (or expired) key; otherwise the value says whether it is done or held.
const claimScript = new LuaScript(
  'idempotency-claim',
  `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'claimed' end
if redis.call('GET', KEYS[1]) == 'done' then return 'done' end
return 'busy'`,
);

// Compare and delete: only the claim this process made, never a done mark or another's claim.
const releaseScript = new LuaScript(
  'idempotency-release',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

/**
 * Creates an idempotency store on Redis, for consumers that share no database: `claim` is one
 * `SET NX PX` (in a script that also tells a done key from a busy one), `complete` writes a done
 * mark with its time to live, `release` deletes the key only if it still holds this process's
 * claim. Every key is one Redis key, so it works on a cluster too. It needs no Redis Streams
 * adapter: any bus (on any broker) can use it.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createRedisIdempotencyStore } from '@tidings/adapter-redis-streams';
 *
 * const store = createRedisIdempotencyStore({ redis: new Redis('redis://127.0.0.1:6379') });
 * bus.subscribe(OrderPlaced, { group: 'email', idempotency: store }, sendConfirmation);
 * ```
 */
export function createRedisIdempotencyStore(options: RedisIdempotencyStoreOptions): IdempotencyStore {
  const redis = options?.redis;
  if (redis === undefined || typeof redis.callBuffer !== 'function') {
    throw new ConfigError('redis', 'an ioredis client (Redis or Cluster) is required');
  }
  const prefix = options.prefix ?? 'tidings:idempotency:';
  if (typeof prefix !== 'string') throw new ConfigError('prefix', 'must be a string');
  // The token of each claim this process holds, so that `release` drops only its own claim.
  const tokens = new Map<string, string>();

  return {
    async claim(key, leaseMs): Promise<ClaimResult> {
      const token = `claim:${randomUUID()}`;
      const result = asText(
        await claimScript.run(redis, [prefix + key], [token, leaseMs]),
        'claim',
      ) as ClaimResult;
      if (result === 'claimed') tokens.set(key, token);
      return result;
    },
    async complete(key, ttlMs) {
      // Done is a fact whoever holds the claim now, so it is written unconditionally.
      await redis.set(prefix + key, 'done', 'PX', ttlMs);
      tokens.delete(key);
    },
    async release(key) {
      const token = tokens.get(key);
      if (token === undefined) return;
      tokens.delete(key);
      await releaseScript.run(redis, [prefix + key], [token]);
    },
  };
}
