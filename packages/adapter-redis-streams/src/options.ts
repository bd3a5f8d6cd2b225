import {
  ConfigError,
  checkInteger,
  checkOptionNames,
  createRedactor,
  definedOnly,
  type OptionNames,
  type Redactor,
  redactUrls,
} from '@tidings/core/adapter';
import type { ClusterOptions, RedisOptions } from 'ioredis';

/**
 * ioredis settings for the adapter's connections. The adapter opens several connections (one for
 * commands, one per subscription for its blocking reads) and sets on each what it relies on: its
 * own `connectionName`, `lazyConnect` and the legacy reply shapes. `keyPrefix` is refused because
 * the adapter's Lua scripts and stream replies name keys in full, and `enableAutoPipelining`
 * because ioredis's auto-pipelining garbles the adapter's script calls (a batch publish is one
 * transaction already).
 *
 * @example
 * ```ts
 * const connection: RedisConnectionOptions = { host: 'redis.internal', port: 6379, password: process.env.REDIS_PASSWORD };
 * ```
 */
export type RedisConnectionOptions = Omit<
  RedisOptions,
  | 'keyPrefix'
  | 'lazyConnect'
  | 'connectionName'
  | 'replyMapping'
  | 'enableOfflineQueue'
  | 'enableAutoPipelining'
  | 'autoPipeliningIgnoredCommands'
>;

/**
 * A Redis Cluster to run on instead of one server: the adapter opens ioredis `Cluster`
 * connections, names its streams with hash tags (`{<topic>}`, see docs/adapters/redis-streams.md)
 * so that every script stays in one slot, and spreads a sharded topic's streams over the slots.
 * The cluster-level settings are ioredis's own, passed through; those the adapter must decide
 * (`lazyConnect`, `enableOfflineQueue`, `scaleReads`: every read goes to the primary that owns the
 * stream, auto-pipelining, `keyPrefix`) are not offered.
 *
 * @example
 * ```ts
 * const cluster: RedisClusterConnectionOptions = {
 *   nodes: ['10.0.0.1:6379', { host: '10.0.0.2', port: 6379 }],
 *   redisOptions: { password: process.env.REDIS_PASSWORD },
 * };
 * ```
 */
export interface RedisClusterConnectionOptions
  extends Pick<
    ClusterOptions,
    | 'clusterRetryStrategy'
    | 'enableReadyCheck'
    | 'maxRedirections'
    | 'retryDelayOnFailover'
    | 'retryDelayOnClusterDown'
    | 'retryDelayOnTryAgain'
    | 'retryDelayOnMoved'
    | 'slotsRefreshTimeout'
    | 'slotsRefreshInterval'
    | 'dnsLookup'
    | 'natMap'
    | 'useSRVRecords'
    | 'resolveSrv'
  > {
  /**
   * Some of the cluster's nodes (ioredis asks them for the others): `host:port` strings or
   * `{ host, port }` objects. At least one.
   */
  readonly nodes: readonly (string | { readonly host: string; readonly port: number })[];
  /** Settings of the connection to each node: `password`, `username`, `tls`, timeouts. */
  readonly redisOptions?: Omit<
    RedisConnectionOptions,
    'port' | 'host' | 'path' | 'sentinels' | 'retryStrategy' | 'readOnly'
  >;
}

/**
 * How the adapter trims the streams it publishes to. Trimming runs after publishing, at most once
 * per `intervalMs` per stream, as one `XTRIM` inside a Lua script.
 *
 * @example
 * ```ts
 * const trim: RedisStreamsTrimOptions = { maxLength: 100_000, maxAgeMs: 7 * 24 * 3_600_000 };
 * ```
 */
export interface RedisStreamsTrimOptions {
  /** Keep about this many entries per stream (trimming removes whole stream nodes). */
  readonly maxLength?: number;
  /** Remove entries older than this, judged by the time in their stream id. */
  readonly maxAgeMs?: number;
  /**
   * `true` (default): never remove an entry that some consumer group of the stream has not
   * settled, that is an entry still pending or not yet delivered to the group. A group that has
   * stopped reading then holds the stream at its position: remove abandoned groups with
   * `XGROUP DESTROY`. `false`: trim to the limits whatever the groups still need, as
   * `XADD ... MAXLEN ~` does; the entries removed are lost for the groups that had not settled them.
   */
  readonly keepUnsettled?: boolean;
  /** Least time between two trims of one stream, in milliseconds. Default 1,000. */
  readonly intervalMs?: number;
}

/**
 * Replication a publish waits for: `WAIT replicas timeoutMs` after the records are written, and
 * the publish rejects if fewer replicas acknowledged them in time.
 *
 * @example
 * ```ts
 * const waitForReplicas: RedisReplicaWait = { replicas: 1, timeoutMs: 500 };
 * ```
 */
export interface RedisReplicaWait {
  /** Replicas that must have the records. */
  readonly replicas: number;
  /** How long to wait for them, in milliseconds. */
  readonly timeoutMs: number;
}

/**
 * Settings of {@link createRedisStreamsAdapter}.
 *
 * @example
 * ```ts
 * const options: RedisStreamsAdapterOptions = {
 *   connection: 'redis://127.0.0.1:6379',
 *   durable: true, // the server runs with appendonly yes and appendfsync always
 *   trim: { maxLength: 1_000_000 },
 * };
 * ```
 */
export interface RedisStreamsAdapterOptions {
  /**
   * A `redis://` URL, or ioredis options (which may name `sentinels` and the primary's `name`
   * for a Sentinel-managed server). Default `redis://127.0.0.1:6379`.
   */
  readonly connection?: string | RedisConnectionOptions;
  /**
   * Run on a Redis Cluster instead (not together with `connection`). Stream names differ on a
   * cluster: topic `t` is the stream `{t}`, its shards `{t:shard-<i>}`. Default: no cluster.
   */
  readonly cluster?: RedisClusterConnectionOptions;
  /**
   * First part of the name every connection of the adapter gives itself (`CLIENT SETNAME`), so
   * operators can find them in `CLIENT LIST`. Letters, digits, `.`, `_`, `:` and `-`. Default `tidings`.
   */
  readonly clientName?: string;
  /** Largest record body accepted, in bytes; at most 512 MiB (Redis's limit). Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /**
   * Whether the server keeps what it acknowledged across a restart: declare `true` only when it
   * runs with `appendonly yes` and `appendfsync always` (or acknowledged writes are replicated and
   * confirmed with `waitForReplicas`). The adapter cannot tell; it reports this as
   * `capabilities.durable`. Default `false`.
   */
  readonly durable?: boolean;
  /** Trimming of the streams this adapter publishes to. Default: no trimming. */
  readonly trim?: RedisStreamsTrimOptions;
  /**
   * Streams per topic. With more than one, a topic is spread by key over `<topic>:shard-<i>`, so
   * that ordered subscriptions (one reading member per stream) can share a topic between up to
   * that many members. Every adapter on a topic must use the same count: the first one records
   * it in Redis and the others refuse to run with another. Default 1: the topic is one stream.
   */
  readonly shards?: number;
  /** Replication every publish waits for. Default: none. */
  readonly waitForReplicas?: RedisReplicaWait;
  /** How long `connect` waits for the server, in milliseconds. Default 10,000. */
  readonly connectTimeoutMs?: number;
  /**
   * How long an entry delivered to a member must have been left untouched before another member
   * of the group claims it (`XAUTOCLAIM`-style recovery of a dead member's entries). A live
   * member keeps its entries fresh while their handlers run. Default: the subscription's
   * `handlerTimeoutMs` plus half of it (at least 1 s more), or 30 s without a handler timeout.
   */
  readonly claimIdleMs?: number;
  /**
   * Time-to-live of the lease by which one member of a group reads an ordered stream
   * (`ordering: 'key'`), in milliseconds, 1,000 to 600,000. The holder renews it every third of
   * this, on a timer of its own whatever its handlers do, and stops reading at four fifths of it
   * when a renewal is late. A member that dies without closing (`SIGKILL`, a crash, Ctrl-C without
   * `bus.stop()`) holds its streams up to this long; one whose event loop is blocked this long is
   * taken for dead, and its records may be handled again by the next holder. Default 5,000.
   */
  readonly leaseTtlMs?: number;
  /**
   * How often each subscription looks for retries that are due but were scheduled by another
   * member (a member redelivers its own retries on time by itself). The declared
   * `delayToleranceMs` is this plus 250 ms. Default 250.
   */
  readonly retryPollIntervalMs?: number;
  /** Longest time one `XREADGROUP` blocks, in milliseconds. Default 2,000. */
  readonly blockMs?: number;
}

/** The settings with every default applied. */
export interface ResolvedOptions {
  readonly connection: string | RedisConnectionOptions;
  readonly cluster: RedisClusterConnectionOptions | undefined;
  readonly clientName: string;
  readonly maxMessageBytes: number;
  readonly durable: boolean;
  readonly trim: Required<RedisStreamsTrimOptions> | undefined;
  readonly shards: number;
  readonly waitForReplicas: RedisReplicaWait | undefined;
  readonly connectTimeoutMs: number;
  readonly claimIdleMs: number | undefined;
  readonly leaseTtlMs: number;
  readonly retryPollIntervalMs: number;
  readonly blockMs: number;
  /**
   * Removes the connection's secrets (passwords of the URL and of the options, TLS passphrase)
   * and URL credentials from every error the adapter raises or reports.
   */
  readonly redact: Redactor;
}

/** Redis refuses bulk strings above 512 MiB (`proto-max-bulk-len`). */
export const REDIS_MAX_BULK_BYTES = 512 * 1024 * 1024;

const DEFAULTS = {
  connection: 'redis://127.0.0.1:6379',
  clientName: 'tidings',
  maxMessageBytes: 1024 * 1024,
  durable: false,
  shards: 1,
  connectTimeoutMs: 10_000,
  leaseTtlMs: 5_000,
  retryPollIntervalMs: 250,
  blockMs: 2_000,
} as const;

/** Validates the options and fills in defaults; a bad value is a `ConfigError` naming the field. */
// `connection` (as an object) is ioredis's own configuration, passed through, and stays open.
const OPTION_NAMES: OptionNames<RedisStreamsAdapterOptions> = {
  connection: true,
  cluster: true,
  clientName: true,
  maxMessageBytes: true,
  durable: true,
  trim: true,
  shards: true,
  waitForReplicas: true,
  connectTimeoutMs: true,
  claimIdleMs: true,
  leaseTtlMs: true,
  retryPollIntervalMs: true,
  blockMs: true,
};
const TRIM_NAMES: OptionNames<RedisStreamsTrimOptions> = {
  maxLength: true,
  maxAgeMs: true,
  keepUnsettled: true,
  intervalMs: true,
};
const REPLICA_WAIT_NAMES: OptionNames<RedisReplicaWait> = {
  replicas: true,
  timeoutMs: true,
};

export function resolveOptions(options: RedisStreamsAdapterOptions): ResolvedOptions {
  checkOptionNames(options, OPTION_NAMES);
  checkOptionNames(options?.trim, TRIM_NAMES, 'trim');
  checkOptionNames(options?.waitForReplicas, REPLICA_WAIT_NAMES, 'waitForReplicas');
  const given = definedOnly(options);
  const merged = {
    ...DEFAULTS,
    ...given,
    trim: resolveTrim(options.trim),
    waitForReplicas: options.waitForReplicas,
    claimIdleMs: options.claimIdleMs,
    cluster: options.cluster,
    redact: createRedactor([...secretsOf(options.connection), ...secretsOf(options.cluster?.redisOptions)]),
  } satisfies ResolvedOptions;
  checkCluster(options);

  const { connection } = merged;
  if (typeof connection === 'string') {
    if (!/^rediss?:\/\//.test(connection)) {
      throw new ConfigError(
        'connection',
        `must be a redis:// or rediss:// URL, got ${JSON.stringify(withoutCredentials(connection))}`,
      );
    }
  } else if (typeof connection !== 'object' || connection === null) {
    throw new ConfigError('connection', 'must be a URL or an ioredis options object');
  } else if ('keyPrefix' in connection && connection.keyPrefix !== undefined) {
    throw new ConfigError(
      'connection.keyPrefix',
      'is not supported: name your topics with the prefix instead',
    );
  } else if ('enableAutoPipelining' in connection && connection.enableAutoPipelining === true) {
    throw new ConfigError(
      'connection.enableAutoPipelining',
      "is not supported: ioredis's auto-pipelining breaks the adapter's Lua script calls",
    );
  }
  if (typeof merged.clientName !== 'string' || !/^[\w.:-]{1,64}$/.test(merged.clientName)) {
    throw new ConfigError(
      'clientName',
      `must be 1 to 64 letters, digits, '.', '_', ':' or '-', got ${JSON.stringify(merged.clientName)}`,
    );
  }
  checkInteger('maxMessageBytes', merged.maxMessageBytes, 1, REDIS_MAX_BULK_BYTES);
  if (typeof merged.durable !== 'boolean') throw new ConfigError('durable', 'must be true or false');
  checkInteger('shards', merged.shards, 1, 1024);
  checkInteger('connectTimeoutMs', merged.connectTimeoutMs, 1);
  checkInteger('retryPollIntervalMs', merged.retryPollIntervalMs, 10, 60_000);
  checkInteger('blockMs', merged.blockMs, 10, 60_000);
  if (merged.claimIdleMs !== undefined) checkInteger('claimIdleMs', merged.claimIdleMs, 100);
  checkInteger('leaseTtlMs', merged.leaseTtlMs, 1_000, 600_000);
  if (merged.waitForReplicas !== undefined) {
    checkInteger('waitForReplicas.replicas', merged.waitForReplicas.replicas, 1);
    checkInteger('waitForReplicas.timeoutMs', merged.waitForReplicas.timeoutMs, 1);
  }
  return merged;
}

function checkCluster(options: RedisStreamsAdapterOptions): void {
  const { cluster } = options;
  if (cluster === undefined) return;
  if (options.connection !== undefined) {
    throw new ConfigError('cluster', 'give either connection or cluster, not both');
  }
  if (typeof cluster !== 'object' || cluster === null) throw new ConfigError('cluster', 'must be an object');
  const { nodes, redisOptions } = cluster;
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new ConfigError('cluster.nodes', 'must list at least one node, as "host:port" or { host, port }');
  }
  for (const [i, node] of nodes.entries()) {
    const ok =
      typeof node === 'string'
        ? /^[^\s:@/]+:\d{1,5}$|^\[[0-9a-f:.]+\]:\d{1,5}$/i.test(node)
        : typeof node === 'object' &&
          node !== null &&
          typeof node.host === 'string' &&
          Number.isInteger(node.port) &&
          node.port > 0 &&
          node.port < 65536;
    if (!ok) {
      // The value is not quoted: a mistaken URL could hold a password.
      throw new ConfigError(`cluster.nodes[${i}]`, 'must be "host:port" or { host, port }');
    }
  }
  if (redisOptions !== undefined) {
    if (typeof redisOptions !== 'object' || redisOptions === null) {
      throw new ConfigError('cluster.redisOptions', 'must be an object');
    }
    for (const name of ['keyPrefix', 'enableAutoPipelining'] as const) {
      if (name in redisOptions && (redisOptions as Record<string, unknown>)[name] !== undefined) {
        throw new ConfigError(`cluster.redisOptions.${name}`, 'is not supported, as for connection');
      }
    }
  }
  for (const name of [
    'keyPrefix',
    'enableAutoPipelining',
    'scaleReads',
    'lazyConnect',
    'enableOfflineQueue',
  ]) {
    if (name in cluster && (cluster as unknown as Record<string, unknown>)[name] !== undefined) {
      throw new ConfigError(`cluster.${name}`, 'is decided by the adapter and cannot be set');
    }
  }
}

function resolveTrim(
  trim: RedisStreamsTrimOptions | undefined,
): Required<RedisStreamsTrimOptions> | undefined {
  if (trim === undefined) return undefined;
  if (typeof trim !== 'object' || trim === null) throw new ConfigError('trim', 'must be an object');
  const { maxLength = 0, maxAgeMs = 0, keepUnsettled = true, intervalMs = 1_000 } = trim;
  if (trim.maxLength !== undefined) checkInteger('trim.maxLength', maxLength, 1);
  if (trim.maxAgeMs !== undefined) checkInteger('trim.maxAgeMs', maxAgeMs, 1);
  if (maxLength === 0 && maxAgeMs === 0) {
    throw new ConfigError('trim', 'give maxLength, maxAgeMs or both (leave trim out for no trimming)');
  }
  if (typeof keepUnsettled !== 'boolean')
    throw new ConfigError('trim.keepUnsettled', 'must be true or false');
  checkInteger('trim.intervalMs', intervalMs, 1);
  return { maxLength, maxAgeMs, keepUnsettled, intervalMs };
}

/**
 * The secrets a connection setting holds, to be redacted wherever they could be quoted: the
 * password of a URL (as written and percent-decoded, since ioredis sends the decoded one) and of
 * its `password` / `sentinelPassword` query parameters, the `password` and `sentinelPassword`
 * options, and a TLS passphrase or key given as text. User names are not secrets and stay.
 */
export function secretsOf(connection: RedisStreamsAdapterOptions['connection'] | object): string[] {
  const secrets: (string | undefined)[] = [];
  if (typeof connection === 'string') {
    let url: URL | undefined;
    try {
      url = new URL(connection);
    } catch {
      // Not a URL (refused by the checks): nothing of it is ever quoted but through withoutCredentials.
    }
    if (url !== undefined) {
      secrets.push(url.password, safeDecode(url.password));
      for (const name of ['password', 'sentinelPassword']) secrets.push(...url.searchParams.getAll(name));
    }
  } else if (typeof connection === 'object' && connection !== null) {
    const given = connection as Record<string, unknown>;
    for (const name of ['password', 'sentinelPassword']) {
      if (typeof given[name] === 'string') secrets.push(given[name]);
    }
    const tls = given.tls as Record<string, unknown> | undefined;
    if (typeof tls === 'object' && tls !== null) {
      for (const name of ['passphrase', 'key', 'pfx'])
        if (typeof tls[name] === 'string') secrets.push(tls[name]);
    }
  }
  return secrets.filter((secret): secret is string => typeof secret === 'string' && secret.length > 0);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A connection string fit to quote in an error: URL credentials, and anything before an `@`, removed. */
function withoutCredentials(text: string): string {
  const redacted = redactUrls(text);
  const at = redacted.lastIndexOf('@');
  return (at < 0 ? redacted : `***${redacted.slice(at)}`).slice(0, 200);
}

/**
 * How long an entry must sit untouched before another member claims it, for a subscription whose
 * handlers may run `handlerTimeoutMs` (0: no limit).
 */
export function claimIdleFor(options: ResolvedOptions, handlerTimeoutMs: number): number {
  if (options.claimIdleMs !== undefined) return options.claimIdleMs;
  if (handlerTimeoutMs <= 0) return 30_000;
  return handlerTimeoutMs + Math.max(1_000, Math.ceil(handlerTimeoutMs / 2));
}

// `{ ...defaults, ...options }` must keep a default when a caller passes `undefined` explicitly.
