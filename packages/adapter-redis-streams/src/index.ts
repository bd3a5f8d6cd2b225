/**
 * Redis Streams adapter for Tidings, on ioredis.
 *
 * @module @tidings/adapter-redis-streams
 */
// The public API of @tidings/adapter-redis-streams.

export type { RedisStreamsAdapter } from './adapter';
export { createRedisStreamsAdapter, redisStreamsCapabilities } from './adapter';
export type { RedisIdempotencyStoreOptions } from './idempotency-store';
export { createRedisIdempotencyStore } from './idempotency-store';
export type {
  RedisClusterConnectionOptions,
  RedisConnectionOptions,
  RedisReplicaWait,
  RedisStreamsAdapterOptions,
  RedisStreamsTrimOptions,
} from './options';
