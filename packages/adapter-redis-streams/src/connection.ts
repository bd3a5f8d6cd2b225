import { ConnectionError, PublishError, toError } from '@tidings/core/adapter';
import { Redis, type RedisOptions } from 'ioredis';
import type { ResolvedOptions } from './options';
import { asText } from './replies';

/** Oldest server the adapter runs on: it needs `XPENDING ... IDLE` and `XAUTOCLAIM`-era streams. */
const MIN_SERVER_VERSION = [6, 2] as const;

/**
 * Makes a connection that is not connected yet, named `name` in `CLIENT LIST`. `onError` gets
 * the connection's errors (ioredis reports each failed reconnection attempt), which would
 * otherwise be printed as unhandled.
 */
export function createConnection(
  options: ResolvedOptions,
  name: string,
  onError: (error: Error) => void,
  use: 'commands' | 'blocking reads' = 'commands',
): Redis {
  const given = typeof options.connection === 'string' ? {} : options.connection;
  // A reader blocks for up to blockMs by design: the timeouts meant for ordinary commands would
  // cut every read short. ioredis's own guard for blocking commands replaces them, so a read on
  // a connection that died silently still returns; and a read waits out a reconnection.
  const { commandTimeout: _c, socketTimeout: _s, ...rest } = given;
  const base =
    use === 'commands'
      ? given
      : { ...rest, maxRetriesPerRequest: null, blockingTimeout: options.blockMs + 1_000 };
  const settings = {
    ...base,
    lazyConnect: true,
    connectionName: name,
    // Stream replies keep the RESP2 shapes under RESP3 too; the readers in replies.ts expect them.
    replyMapping: 'legacy' as const,
    enableOfflineQueue: true,
  } satisfies RedisOptions;
  const redis =
    typeof options.connection === 'string' ? new Redis(options.connection, settings) : new Redis(settings);
  redis.on('error', (error: unknown) => onError(toError(error)));
  return redis;
}

/**
 * Connects within `timeoutMs`. ioredis would keep trying in the background after a failed first
 * attempt, so on failure the connection is dropped and the error is a `ConnectionError`.
 */
export async function connectWithin(redis: Redis, timeoutMs: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([redis.connect(), timedOut]);
  } catch (error) {
    redis.disconnect();
    throw new ConnectionError(`cannot connect the ${what} to Redis: ${toError(error).message}`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Checks that the server is recent enough; rejects with a `ConnectionError` that says what it found. */
export async function checkServerVersion(redis: Redis): Promise<string> {
  const info = asText(await redis.callBuffer('info', 'server'), 'INFO server');
  const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? '0';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [needMajor, needMinor] = MIN_SERVER_VERSION;
  if (major < needMajor || (major === needMajor && minor < needMinor)) {
    throw new ConnectionError(
      `Redis ${needMajor}.${needMinor} or later is needed for streams with XPENDING IDLE; the server is ${version}`,
    );
  }
  return version;
}

/**
 * Whether an error came from the server's reply (the command was refused) rather than from the
 * connection (closed, reset, retries exhausted): the first is the record's problem, the second
 * the transport's.
 */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/** The typed error for a failed publish: `PublishError` for a refusal, `ConnectionError` otherwise. */
export function publishFailure(error: unknown, topic: string): Error {
  const cause = toError(error);
  if (isReplyError(error)) {
    return new PublishError(`Redis refused a record for "${topic}": ${cause.message}`, { cause, topic });
  }
  return new ConnectionError(`publishing to "${topic}" failed: ${cause.message}`, { cause });
}

/** Whether a reply error is `NOGROUP` (the stream or its consumer group was deleted). */
export function isNoGroup(error: unknown): boolean {
  return isReplyError(error) && (error as Error).message.startsWith('NOGROUP');
}

/** Whether a reply error is `BUSYGROUP` (the group exists already). */
export function isBusyGroup(error: unknown): boolean {
  return isReplyError(error) && (error as Error).message.startsWith('BUSYGROUP');
}

/** Whether a reply error is `WRONGTYPE` (the key holds another type than the command needs). */
export function isWrongType(error: unknown): boolean {
  return isReplyError(error) && (error as Error).message.startsWith('WRONGTYPE');
}
