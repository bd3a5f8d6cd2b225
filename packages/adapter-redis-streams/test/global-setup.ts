import { Redis } from 'ioredis';
import { REDIS_URL } from './redis';

/** Fails the run at once, saying what to do, when the Redis server is not there. */
export default async function checkRedis(): Promise<void> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(
      `The Redis Streams adapter tests need a Redis server at ${REDIS_URL} (set TIDINGS_REDIS_URL to use another), ` +
        `and it does not answer: ${(error as Error).message}. Start the machine's services with: bash tools/services.sh`,
    );
  } finally {
    redis.disconnect();
  }
}
