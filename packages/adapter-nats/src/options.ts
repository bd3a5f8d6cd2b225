import {
  ConfigError,
  checkOptionNames,
  definedOnly,
  type OptionNames,
  type Redactor,
  topicProblem,
} from '@tidings/core/adapter';
import type { ConnectionOptions, NatsConnection } from 'nats';
import { resolveCredentials } from './credentials';
import { NATS_TOPIC_RULE } from './subjects';

/**
 * Connection settings shared by the JetStream and the core-NATS adapter.
 *
 * @example
 * ```ts
 * const connection: NatsConnectionOptions = {
 *   servers: ['nats://nats-1:4222', 'nats://nats-2:4222'],
 *   connectionOptions: { user: 'orders', pass: process.env.NATS_PASSWORD },
 *   publishTimeoutMs: 10_000,
 * };
 * ```
 */
export interface NatsConnectionOptions {
  /**
   * Server URLs (`nats://host:port` or `host:port`). Default `127.0.0.1:4222`. Ignored with
   * `connection`. Credentials in a URL (`nats://user:password@host`, `nats://token@host`) are used
   * to connect (nats.js itself ignores them) and never appear in errors or logs.
   */
  readonly servers?: string | readonly string[];
  /**
   * Further options for nats.js `connect()`: credentials, TLS, client name, reconnect timing. The
   * adapter's own defaults (reconnect forever, one second apart) apply unless set here. The
   * secrets given here (`pass`, `token`, `nkey`, `userJWT`) are removed from every error the
   * adapter reports.
   */
  readonly connectionOptions?: Omit<ConnectionOptions, 'servers'>;
  /**
   * An open connection to use instead of opening one, to share it with the rest of the app. The
   * adapter never closes it; its state follows the connection's.
   */
  readonly connection?: NatsConnection;
  /** How long `connect()` waits for the server, in milliseconds. Default 10,000. */
  readonly connectTimeoutMs?: number;
  /** How long a publish waits for the server to confirm, in milliseconds. Default 5,000. */
  readonly publishTimeoutMs?: number;
  /**
   * Largest record body accepted, in bytes. Default 1 MiB less 64 KiB, which leaves room for the
   * headers within the server's default `max_payload` of 1 MiB. A body within this limit whose
   * headers push the message over the server's `max_payload` is refused too.
   */
  readonly maxMessageBytes?: number;
}

/**
 * How the JetStream stream that stores the records is made, when the adapter makes it. An existing
 * stream is used as it is (only its subjects and partition count are checked).
 *
 * @example
 * ```ts
 * const stream: NatsStreamOptions = { name: 'ORDERS', maxAgeMs: 3 * 24 * 3600_000, maxBytes: 20 * 1024 ** 3 };
 * ```
 */
export interface NatsStreamOptions {
  /** Stream name. Default: the prefix in capitals, other characters than `[A-Za-z0-9_-]` as `_`. */
  readonly name?: string;
  /**
   * Create the stream when it does not exist. Default true. With false, a missing stream fails
   * `connect()` with a `ConfigError`: for deployments where operators own the streams.
   */
  readonly create?: boolean;
  /** `file` (default) survives a server restart; `memory` does not (the adapter then declares `durable: false`). */
  readonly storage?: 'file' | 'memory';
  /**
   * `limits` (default): records stay until the limits below remove them, whoever read them, as in
   * a log. `interest`: a record goes once every consumer group that existed when it was stored
   * has acknowledged it; records published while no group reads their topic are not kept, dead
   * letters included (subscribe a group to the dead-letter topics first).
   */
  readonly retention?: 'limits' | 'interest';
  /** Oldest record kept, in milliseconds; 0 keeps records forever. Default 7 days. */
  readonly maxAgeMs?: number;
  /** Most bytes kept; -1 for no limit (default). */
  readonly maxBytes?: number;
  /** Most records kept; -1 for no limit (default). */
  readonly maxMessages?: number;
  /**
   * What a full stream does: `old` (default) drops its oldest records, as a log does; `new` refuses
   * new ones, so publishes fail with a `PublishError` until there is room.
   */
  readonly discard?: 'old' | 'new';
  /** Window in which a re-published event id is dropped, in milliseconds. Default 2 minutes. */
  readonly duplicateWindowMs?: number;
  /** Replicas in a cluster. Default 1. */
  readonly replicas?: number;
}

/**
 * Settings of {@link createNatsAdapter}.
 *
 * @example
 * ```ts
 * const adapter = createNatsAdapter({
 *   servers: 'nats://127.0.0.1:4222',
 *   prefix: 'shop',                  // subjects shop.<topic>.<partition>
 *   stream: { name: 'SHOP', replicas: 3 },
 *   partitions: 16,
 *   ackWaitMs: 60_000,
 * });
 * ```
 */
export interface NatsAdapterOptions extends NatsConnectionOptions {
  /**
   * Subject prefix: a record of topic `order.placed` is stored at `<prefix>.order.placed.<partition>`.
   * Default `tidings`.
   */
  readonly prefix?: string;
  /** The stream that captures `<prefix>.>`. */
  readonly stream?: NatsStreamOptions;
  /**
   * Partitions per topic: a record's key picks one (FNV-1a hash), and an ordered subscription
   * (`ordering: 'key'`) handles each partition one record at a time. It is written into the
   * stream's description when the adapter creates the stream, and read back from it by every
   * adapter that connects later, so publishers and consumers cannot disagree. Default 8.
   */
  readonly partitions?: number;
  /**
   * JetStream `ack_wait`: how long the server waits for an unsettled record before giving it to
   * another member. While a handler runs the adapter sends progress acks, so this is the time it
   * takes to notice a consumer that died, not a limit on handlers. Default 30,000 ms.
   */
  readonly ackWaitMs?: number;
  /**
   * Deliveries allowed beyond the subscription's `maxAttempts` for records whose handler never
   * settled them (the process died, or closed without waiting): the consumer's `max_deliver` is
   * `maxAttempts + extraDeliveries`, so the core always sees such a record once more and
   * dead-letters it. At least 1; `Infinity` for no limit. Default 5. A record is never left to
   * reach the limit unsettled: its last delivery is not handed back to the server while its
   * subscription runs, and one the server gives up on anyway (its member died holding it) is
   * dead-lettered by another member of the group, on the server's `MAX_DELIVERIES` advisory.
   */
  readonly extraDeliveries?: number;
  /**
   * Floor of a consumer's `max_ack_pending` (records delivered and not yet settled, across all
   * members of a group) for unordered subscriptions; it is raised to the subscription's prefetch
   * when that is higher. Ordered subscriptions use 1 per partition. Default 1,000.
   */
  readonly maxAckPending?: number;
}

/**
 * Settings of {@link createNatsCoreAdapter}.
 *
 * @example
 * ```ts
 * const adapter = createNatsCoreAdapter({ servers: 'nats://127.0.0.1:4222', prefix: 'presence', maxBufferedRecords: 1_000 });
 * ```
 */
export interface NatsCoreAdapterOptions extends NatsConnectionOptions {
  /**
   * Subject prefix: topic `user.seen` is published at `<prefix>.user.seen`. Default `tidings-core`,
   * apart from the JetStream adapter's `tidings.>` so that its stream does not store core traffic.
   */
  readonly prefix?: string;
  /**
   * Records received and not yet handled that a subscription keeps; beyond it, new records are
   * dropped (core NATS has no flow control: this is the at-most-once price of a slow consumer).
   * Default 10,000.
   */
  readonly maxBufferedRecords?: number;
}

/** Connection settings with defaults filled in. */
export interface ResolvedConnectionOptions {
  /** The server URLs, without the credentials they carried. */
  readonly servers: string | string[];
  /** The nats.js options, with the credentials of the URLs. */
  readonly connectionOptions: Omit<ConnectionOptions, 'servers'>;
  /** Hides every known secret in messages and errors. */
  readonly redactor: Redactor;
  /** The servers as messages name them, without credentials. */
  readonly where: string;
  readonly connection: NatsConnection | undefined;
  readonly connectTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly prefix: string;
}

/** Stream settings with defaults filled in. */
export type ResolvedStreamOptions = Required<NatsStreamOptions>;

/** JetStream adapter settings with defaults filled in. */
export interface ResolvedNatsOptions extends ResolvedConnectionOptions {
  readonly stream: ResolvedStreamOptions;
  readonly partitions: number;
  /** Whether `partitions` was given, so that a stream that says otherwise is a conflict. */
  readonly partitionsGiven: boolean;
  readonly ackWaitMs: number;
  readonly extraDeliveries: number;
  readonly maxAckPending: number;
}

/** Core adapter settings with defaults filled in. */
export interface ResolvedNatsCoreOptions extends ResolvedConnectionOptions {
  readonly maxBufferedRecords: number;
}

/** The default largest body: room for headers within the server's default 1 MiB payload. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 - 64 * 1024;

const DAY_MS = 24 * 60 * 60 * 1000;

function integer(field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(field, `must be an integer ${range}, got ${String(value)}`);
  }
  return value;
}

function oneOf<T extends string>(field: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    throw new ConfigError(
      field,
      `must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${String(value)}`,
    );
  }
  return value;
}

function checkPrefix(prefix: string): string {
  // The prefix is the first part of every subject: it follows the rule of topics.
  const problem = topicProblem(NATS_TOPIC_RULE, prefix);
  if (problem !== undefined) throw new ConfigError('prefix', `must be a valid subject part: ${problem}`);
  return prefix;
}

/** The default stream name of a prefix: `tidings` → `TIDINGS`, `acme.events` → `ACME_EVENTS`. */
export function defaultStreamName(prefix: string): string {
  return prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_');
}

function resolveConnection(options: NatsConnectionOptions, prefix: string): ResolvedConnectionOptions {
  const merged = {
    servers: '127.0.0.1:4222' as string | readonly string[],
    connectionOptions: {},
    connectTimeoutMs: 10_000,
    publishTimeoutMs: 5_000,
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    ...definedOnly(options),
  };
  const servers = typeof merged.servers === 'string' ? merged.servers : [...merged.servers];
  if ((Array.isArray(servers) && servers.length === 0) || servers === '') {
    throw new ConfigError('servers', 'give at least one server URL');
  }
  const credentials = resolveCredentials(servers, merged.connectionOptions);
  return {
    servers: credentials.servers,
    connectionOptions: credentials.connectionOptions,
    redactor: credentials.redactor,
    where: credentials.where,
    connection: options.connection,
    connectTimeoutMs: integer('connectTimeoutMs', merged.connectTimeoutMs, 1),
    publishTimeoutMs: integer('publishTimeoutMs', merged.publishTimeoutMs, 1),
    maxMessageBytes: integer('maxMessageBytes', merged.maxMessageBytes, 1),
    prefix: checkPrefix(prefix),
  };
}

/**
 * Fills in the JetStream adapter's defaults and checks every option, throwing a `ConfigError`
 * that names the first bad field.
 */
// `connectionOptions` is nats.js's own configuration, passed through, and stays open.
const OPTION_NAMES: OptionNames<NatsAdapterOptions> = {
  servers: true,
  connectionOptions: true,
  connection: true,
  connectTimeoutMs: true,
  publishTimeoutMs: true,
  maxMessageBytes: true,
  prefix: true,
  stream: true,
  partitions: true,
  ackWaitMs: true,
  extraDeliveries: true,
  maxAckPending: true,
};
const CORE_OPTION_NAMES: OptionNames<NatsCoreAdapterOptions> = {
  servers: true,
  connectionOptions: true,
  connection: true,
  connectTimeoutMs: true,
  publishTimeoutMs: true,
  maxMessageBytes: true,
  prefix: true,
  maxBufferedRecords: true,
};
const STREAM_NAMES: OptionNames<NatsStreamOptions> = {
  name: true,
  create: true,
  storage: true,
  retention: true,
  maxAgeMs: true,
  maxBytes: true,
  maxMessages: true,
  discard: true,
  duplicateWindowMs: true,
  replicas: true,
};

export function resolveNatsOptions(options: NatsAdapterOptions): ResolvedNatsOptions {
  checkOptionNames(options, OPTION_NAMES);
  checkOptionNames(options?.stream, STREAM_NAMES, 'stream');
  const prefix = options.prefix ?? 'tidings';
  const connection = resolveConnection(options, prefix);
  const stream = {
    name: defaultStreamName(connection.prefix),
    create: true,
    storage: 'file',
    retention: 'limits',
    maxAgeMs: 7 * DAY_MS,
    maxBytes: -1,
    maxMessages: -1,
    discard: 'old',
    duplicateWindowMs: 2 * 60 * 1000,
    replicas: 1,
    ...definedOnly(options.stream ?? {}),
  } satisfies ResolvedStreamOptions;
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(stream.name)) {
    throw new ConfigError(
      'stream.name',
      `must be 1 to 200 characters of [A-Za-z0-9_-], got "${stream.name}"`,
    );
  }
  if (typeof stream.create !== 'boolean') throw new ConfigError('stream.create', 'must be a boolean');
  oneOf('stream.storage', stream.storage, ['file', 'memory']);
  oneOf('stream.retention', stream.retention, ['limits', 'interest']);
  oneOf('stream.discard', stream.discard, ['old', 'new']);
  integer('stream.maxAgeMs', stream.maxAgeMs, 0);
  integer('stream.maxBytes', stream.maxBytes, -1);
  integer('stream.maxMessages', stream.maxMessages, -1);
  integer('stream.duplicateWindowMs', stream.duplicateWindowMs, 1);
  integer('stream.replicas', stream.replicas, 1, 5);

  const extraDeliveries = options.extraDeliveries ?? 5;
  // At least one: with none, a record whose last attempt died with its process would never come
  // back for the core to dead-letter it.
  if (extraDeliveries !== Number.POSITIVE_INFINITY) integer('extraDeliveries', extraDeliveries, 1);
  return {
    ...connection,
    stream,
    partitions: integer('partitions', options.partitions ?? 8, 1, 1024),
    partitionsGiven: options.partitions !== undefined,
    ackWaitMs: integer('ackWaitMs', options.ackWaitMs ?? 30_000, 100),
    extraDeliveries,
    maxAckPending: integer('maxAckPending', options.maxAckPending ?? 1_000, 1),
  };
}

/** Fills in the core adapter's defaults and checks every option. */
export function resolveNatsCoreOptions(options: NatsCoreAdapterOptions): ResolvedNatsCoreOptions {
  checkOptionNames(options, CORE_OPTION_NAMES);
  const connection = resolveConnection(options, options.prefix ?? 'tidings-core');
  return {
    ...connection,
    maxBufferedRecords: integer('maxBufferedRecords', options.maxBufferedRecords ?? 10_000, 1),
  };
}
