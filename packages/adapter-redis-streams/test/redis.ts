import { Redis } from 'ioredis';

/** The Redis server the tests use; `TIDINGS_REDIS_URL` overrides the machine's default. */
export const REDIS_URL = process.env.TIDINGS_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A plain connection for the tests' own checks and clean-up; close it with `quit()`. */
export function adminConnection(url = REDIS_URL): Redis {
  return new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
}

/** A name no other test run uses, for topics and groups. */
export function uniqueName(label: string): string {
  return `test-redis-${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Deletes every key matching a glob pattern (the test's streams and the adapter's keys beside them). */
export async function deleteKeysMatching(pattern: string, url = REDIS_URL): Promise<number> {
  const redis = adminConnection(url);
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) deleted += await redis.del(...found);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
  return deleted;
}

/** Kills every connection whose name starts with `prefix` (`CLIENT KILL ID`), as a network cut would. */
export async function killConnections(prefix: string, url = REDIS_URL): Promise<number> {
  const redis = adminConnection(url);
  await redis.connect();
  try {
    const list = String(await redis.client('LIST'));
    const ids = list
      .split('\n')
      .map((line) => ({ id: /\bid=(\d+)/.exec(line)?.[1], name: /\bname=(\S*)/.exec(line)?.[1] }))
      .filter((client) => client.id !== undefined && client.name?.startsWith(`${prefix}:`))
      .map((client) => client.id!);
    for (const id of ids) await redis.client('KILL', 'ID', id);
    return ids.length;
  } finally {
    await redis.quit();
  }
}
