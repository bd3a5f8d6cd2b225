import { ConnectionError, PublishError, type Redactor, TidingsError, toError } from '@tidings/core/adapter';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { ResolvedOptions } from './options';
import { asText } from './replies';

/** Oldest server the adapter runs on: it needs `XPENDING ... IDLE` and `XAUTOCLAIM`-era streams. */
const MIN_SERVER_VERSION = [6, 2] as const;

/**
 * A connection of the adapter: to one server, or (the `cluster` option) an ioredis `Cluster`,
 * which holds a connection to each node and sends each command to the node owning its keys' slot.
 */
export type RedisClient = Redis | Cluster;

/**
 * Makes a connection that is not connected yet, named `name` in `CLIENT LIST`. `onError` gets
 * the connection's errors (ioredis reports each failed reconnection attempt), which would
 * otherwise be printed as unhandled. The errors are ioredis's own: they may carry the command
 * that failed with its arguments (a `HELLO ... AUTH <user> <password>`), so pass them through the
 * options' redactor before they go anywhere.
 */
export function createConnection(
  options: ResolvedOptions,
  name: string,
  onError: (error: Error) => void,
  use: 'commands' | 'blocking reads' = 'commands',
): RedisClient {
  const { cluster } = options;
  const given =
    cluster !== undefined
      ? (cluster.redisOptions ?? {})
      : typeof options.connection === 'string'
        ? {}
        : options.connection;
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
  let redis: RedisClient;
  if (cluster !== undefined) {
    const { nodes, redisOptions: _r, ...clusterSettings } = cluster;
    const { enableOfflineQueue: _e, ...nodeSettings } = settings;
    redis = new Cluster(
      nodes.map((node) => (typeof node === 'string' ? node : { host: node.host, port: node.port })),
      {
        ...clusterSettings,
        lazyConnect: true,
        enableOfflineQueue: true,
        // Every command on the primary that owns the slot: a replica's copy may lag behind.
        scaleReads: 'master',
        redisOptions: nodeSettings,
      } satisfies ClusterOptions,
    );
  } else {
    redis =
      typeof options.connection === 'string' ? new Redis(options.connection, settings) : new Redis(settings);
  }
  redis.on('error', (error: unknown) => onError(toError(error)));
  return redis;
}

// Sockets held back (corked) until the end of the current tick, see `writeTogether`.
const corked = new WeakSet<object>();

/**
 * Lets the commands sent on `redis` from now until the end of the current tick go out in one
 * socket write: the socket is corked now and uncorked by a `process.nextTick`, which runs once
 * the promise callbacks under way are done. Commands are queued and answered exactly as before
 * (one reply each, in order); only the system calls are shared: without it, each of a hundred
 * publishes in flight pays a `write` of its own, a fifth of the publish path's time. On a cluster
 * (a socket per node, chosen per command) it does nothing.
 */
export function writeTogether(redis: RedisClient): void {
  if (redis instanceof Cluster) return;
  const stream = redis.stream;
  // No socket yet: ioredis keeps the command in its offline queue, there is no write to share.
  if (stream === undefined || corked.has(stream)) return;
  corked.add(stream);
  stream.cork();
  process.nextTick(() => {
    corked.delete(stream);
    stream.uncork();
  });
}

/** The name a client's connections give themselves (`CLIENT SETNAME`). */
export function connectionNameOf(redis: RedisClient): string | undefined {
  return redis instanceof Cluster ? redis.options.redisOptions?.connectionName : redis.options.connectionName;
}

/**
 * The connections of a client that serve commands: the one connection of a single server, or the
 * connection to each primary of a cluster.
 */
export function primariesOf(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/**
 * Calls `onChange` whenever the connection's status may have changed: it is ready, it closed, it
 * is waiting to reconnect, or ioredis gave up on it. The returned function stops the calls.
 */
export function watchStatus(redis: RedisClient, onChange: () => void): () => void {
  const events = ['ready', 'close', 'reconnecting', 'end'] as const;
  for (const event of events) redis.on(event, onChange);
  return () => {
    for (const event of events) redis.off(event, onChange);
  };
}

/**
 * Connects within `timeoutMs`. ioredis would keep trying in the background after a failed first
 * attempt, so on failure the connection is dropped and the error is a `ConnectionError`, redacted.
 *
 * Its cause is what actually went wrong: ioredis rejects `connect()` with a bare "Connection is
 * closed." whatever happened, and reports the reason (`ECONNREFUSED`, `WRONGPASS`, `NOAUTH`, a TLS
 * failure) only as an `error` event just before; that event's error is kept, so that a closed
 * port and a wrong password read differently.
 */
export async function connectWithin(
  redis: RedisClient,
  timeoutMs: number,
  what: string,
  redact: Redactor,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let reason: unknown;
  const noteReason = (error: unknown): void => {
    reason = error;
  };
  redis.on('error', noteReason);
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([redis.connect(), timedOut]);
  } catch (error) {
    redis.disconnect();
    throw connectionFailure(
      `cannot connect the ${what} to Redis at ${addressOf(redis)}`,
      reason ?? error,
      redact,
    );
  } finally {
    clearTimeout(timer);
    redis.off('error', noteReason);
  }
}

/** A `ConnectionError` saying `what`, then why (the redacted cause's message), with that cause. */
export function connectionFailure(what: string, error: unknown, redact: Redactor): ConnectionError {
  const cause = redact.error(error);
  return new ConnectionError(redact.text(`${what}: ${describe(cause)}`), { cause });
}

/** Where a connection goes, for messages: host and port (or socket path), never credentials. */
export function addressOf(redis: RedisClient): string {
  if (redis instanceof Cluster) return 'its cluster nodes';
  const { host, port, path, sentinels, name } = redis.options;
  if (typeof path === 'string' && path.length > 0) return path;
  if (Array.isArray(sentinels) && sentinels.length > 0)
    return `the primary "${String(name)}" of its sentinels`;
  return `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}

// An error's message, with its code when the message does not say it (ioredis's ETIMEDOUT).
function describe(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code)
    ? `${error.message} (${code})`
    : error.message;
}

/** Checks that the server is recent enough; rejects with a `ConnectionError` that says what it found. */
export async function checkServerVersion(redis: RedisClient): Promise<string> {
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

/** The typed, redacted error for a failed publish: `PublishError` for a refusal, `ConnectionError` otherwise. */
export function publishFailure(error: unknown, topic: string, redact: Redactor): Error {
  const cause = redact.error(error);
  if (isReplyError(error)) {
    return new PublishError(redact.text(`Redis refused a record for "${topic}": ${cause.message}`), {
      cause,
      topic,
    });
  }
  return new ConnectionError(redact.text(`publishing to "${topic}" failed: ${cause.message}`), { cause });
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

/**
 * What a failed write means for trying it again:
 *
 * - `'connection'`: no answer (the connection closed, ioredis gave up resending, a timeout). The
 *   command may or may not have been applied; the same write may succeed once the connection is back.
 * - `'transient'`: the server refused it for now and says so: `OOM` (over `maxmemory`: memory
 *   comes back as streams are trimmed and entries acknowledged), `LOADING`, `BUSY`, `MISCONF`
 *   (persistence failing), `READONLY` / `MASTERDOWN` (a failover under way), `TRYAGAIN`,
 *   `NOREPLICAS`. The same write is worth trying again, spaced out.
 * - `'too-large'`: the server refused the size of an argument (`proto-max-bulk-len`): a smaller
 *   write may pass, the same one never.
 * - `'permanent'`: any other refusal: `WRONGTYPE` (the key holds another type), `NOPERM` (ACL), a
 *   syntax error. The same write fails until someone changes the server; it is not repeated.
 */
export type FailureKind = 'connection' | 'transient' | 'too-large' | 'permanent';

const TRANSIENT_REPLIES =
  /^(OOM|LOADING|BUSY|MISCONF|READONLY|MASTERDOWN|TRYAGAIN|NOREPLICAS|CLUSTERDOWN|MOVED|ASK)\b/;
const SIZE_REPLIES =
  /^ERR (Protocol error: (invalid bulk length|too big (m?bulk|inline request))|string exceeds maximum allowed size)/i;

/**
 * Sorts a failed write into a {@link FailureKind}. An error the adapter raised itself is sorted by
 * its cause (the Redis error it wraps) or, without one, is permanent unless it is a `ConnectionError`.
 */
export function failureKind(error: unknown, depth = 0): FailureKind {
  if (!(error instanceof Error)) return 'permanent';
  if (error instanceof TidingsError) {
    if (error.cause !== undefined && depth < 5) return failureKind(error.cause, depth + 1);
    return error.code === 'CONNECTION' ? 'connection' : 'permanent';
  }
  if (isReplyError(error)) {
    if (TRANSIENT_REPLIES.test(error.message)) return 'transient';
    if (SIZE_REPLIES.test(error.message)) return 'too-large';
    return 'permanent';
  }
  // ioredis's own: "Connection is closed.", MaxRetriesPerRequestError, AbortError, timeouts.
  const name = error.name;
  // ClusterAllFailedError: no node of a cluster answered when ioredis reloaded the slots.
  if (['Error', 'MaxRetriesPerRequestError', 'AbortError', 'ClusterAllFailedError'].includes(name))
    return 'connection';
  if (error.message.includes('Command timed out')) return 'connection';
  return 'permanent';
}
