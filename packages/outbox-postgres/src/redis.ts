// '@tidings/outbox-postgres/redis': the Redis idempotency store, apart from the PostgreSQL code so
// that importing it needs ioredis only, and importing the rest never needs ioredis.

export type { RedisIdempotencyStoreOptions } from './redis/redis-idempotency-store';
export { createRedisIdempotencyStore } from './redis/redis-idempotency-store';
