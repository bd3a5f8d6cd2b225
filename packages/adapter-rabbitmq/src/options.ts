import { hostname } from 'node:os';
import {
  ConfigError,
  checkInteger,
  checkOptionNames,
  definedOnly,
  type OptionNames,
} from '@tidings/core/adapter';
import type { Options, SocketOptions } from 'amqplib';

/**
 * How the adapter reconnects after the broker drops a connection: exponential backoff from
 * `initialDelayMs` up to `maxDelayMs`, with 20 % jitter, for as long as it takes.
 *
 * @example
 * ```ts
 * createRabbitMQAdapter({ reconnect: { initialDelayMs: 250, maxDelayMs: 30_000 } });
 * ```
 */
export interface ReconnectOptions {
  /** Delay before the first reconnection attempt, in milliseconds. Default 100. */
  readonly initialDelayMs?: number;
  /** Upper bound of the delay between attempts, in milliseconds. Default 10,000. */
  readonly maxDelayMs?: number;
}

/**
 * Where the RabbitMQ management HTTP API is, for the counts AMQP cannot give: `describeGroups`
 * reads each group queue's delivered and unacknowledged messages from it. When the API does not
 * answer (plugin off, port closed, login refused), the adapter falls back to AMQP's counts.
 *
 * @example
 * ```ts
 * createRabbitMQAdapter({
 *   url: 'amqp://app:secret@rabbitmq.internal:5672/orders',
 *   management: { url: 'https://rabbitmq.internal:15671', timeoutMs: 1_000 },
 * });
 * ```
 */
export interface ManagementOptions {
  /**
   * Base URL of the API, `http:` or `https:`, with a path prefix if a proxy adds one. Default: the
   * AMQP URL's host on port 15672 (`http:`), or 15671 (`https:`) for `amqps:`. User name and
   * password default to the AMQP ones; the virtual host is always the AMQP one.
   */
  readonly url?: string;
  /** How long one request to the API may take, in milliseconds. Default 2,000. */
  readonly timeoutMs?: number;
}

/** The management API as the adapter calls it: a base URL without credentials, and the login apart. */
export interface ResolvedManagement {
  /** Ends with `/`; carries no user name or password. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** The AMQP virtual host, whose queues are asked for. */
  readonly vhost: string;
  readonly timeoutMs: number;
}

/**
 * The type of the queues the adapter declares: `'quorum'` counts deliveries in the broker and
 * dead-letters at least once; `'classic'` is lighter and counts nothing.
 */
export type QueueType = 'quorum' | 'classic';

/**
 * Where one RabbitMQ node is: an AMQP URL (`amqp://user:password@host:5672/vhost`) or amqplib's
 * connection fields.
 *
 * @example
 * ```ts
 * const byUrl: AmqpAddress = 'amqp://app:secret@rabbit-1.internal:5672/orders';
 * const byFields: AmqpAddress = { hostname: 'rabbit-2.internal', username: 'app', password: 'secret', vhost: 'orders' };
 * ```
 */
export type AmqpAddress = string | Options.Connect;

/**
 * Settings of {@link createRabbitMQAdapter}.
 *
 * @example
 * ```ts
 * const options: RabbitMQAdapterOptions = {
 *   url: 'amqp://app:secret@rabbitmq.internal:5672/orders',
 *   exchange: 'orders',
 *   connectionName: 'order-service',
 * };
 * // A cluster: every node's address; the adapter moves to the next one when its node goes.
 * const clustered: RabbitMQAdapterOptions = {
 *   url: ['amqp://app:secret@rabbit-1:5672/orders', 'amqp://app:secret@rabbit-2:5672/orders', 'amqp://app:secret@rabbit-3:5672/orders'],
 * };
 * ```
 */
export interface RabbitMQAdapterOptions {
  /**
   * Where the broker is: an AMQP URL or amqplib connection fields, or, for a cluster, a list of
   * them, one per node. With a list, each connection opens to the first node that answers and,
   * when it drops, reconnects to the next one in the list (round robin, with the `reconnect`
   * backoff growing after each full round). Every entry must name the same virtual host. Default
   * `amqp://localhost`.
   */
  readonly url?: AmqpAddress | readonly AmqpAddress[];
  /** Socket and TLS options passed to amqplib (certificates, `noDelay`, ...). */
  readonly socketOptions?: Omit<SocketOptions, 'clientProperties'>;
  /**
   * Shown by `rabbitmqctl list_connections` and the management UI as `connection_name`, with
   * ` (publish)` or ` (consume)` appended. Default `tidings <hostname> <pid>`.
   */
  readonly connectionName?: string;
  /**
   * The durable topic exchange every record is published to (routing key = topic). It also names
   * the queues: `<exchange>/<group>/<topic>`. Default `tidings`.
   */
  readonly exchange?: string;
  /**
   * Type of the queues the adapter declares. `'quorum'` (default) counts deliveries in the broker
   * (`x-delivery-count`), so a record whose consumer died comes back with a higher attempt, and
   * dead-letters its delayed retries at least once. `'classic'` is lighter but counts nothing.
   */
  readonly queueType?: QueueType;
  /**
   * Publish with the `mandatory` flag, so that a record no queue is bound for fails with a
   * `PublishError` instead of being dropped by the broker. Default true. Set it to false when
   * publishing events nobody subscribes to yet is normal for your system: RabbitMQ then
   * discards them, as it does for any unbound routing key.
   */
  readonly rejectUnroutable?: boolean;
  /** Largest record body accepted, in bytes. Default 16 MiB; at most 512 MiB (RabbitMQ's own cap). */
  readonly maxMessageBytes?: number;
  /** How long `connect` and `subscribe` wait for the broker, in milliseconds. Default 10,000. */
  readonly connectTimeoutMs?: number;
  /**
   * How long a publish may take, waiting for a lost connection to come back included, before it
   * fails with a `PublishError`. Default 10,000.
   */
  readonly publishTimeoutMs?: number;
  /**
   * Granularity of retry delays, in milliseconds: a delay is rounded up to a multiple of it, so a
   * retry is never early and at most this much late (plus the broker's own latency). Default 100.
   */
  readonly delayResolutionMs?: number;
  /** Reconnection backoff. */
  readonly reconnect?: ReconnectOptions;
  /**
   * The management HTTP API, asked by `describeGroups` for the messages delivered and not yet
   * acknowledged (`pending`); `false` never asks it. Default: derived from `url` (see
   * {@link ManagementOptions}), used when it answers.
   */
  readonly management?: ManagementOptions | false;
}

/** Settings with every default filled in. */
export interface ResolvedOptions {
  /** The nodes to connect to, in order: one entry, or a cluster's nodes. */
  readonly urls: readonly [AmqpAddress, ...AmqpAddress[]];
  readonly socketOptions: Omit<SocketOptions, 'clientProperties'>;
  readonly connectionName: string;
  readonly exchange: string;
  readonly queueType: QueueType;
  readonly rejectUnroutable: boolean;
  readonly maxMessageBytes: number;
  readonly connectTimeoutMs: number;
  readonly publishTimeoutMs: number;
  readonly delayResolutionMs: number;
  readonly reconnect: Required<ReconnectOptions>;
  readonly management: ResolvedManagement | false;
}

const MiB = 1024 * 1024;

/** RabbitMQ refuses messages above 512 MiB whatever `max_message_size` says. */
export const BROKER_MAX_MESSAGE_BYTES = 512 * MiB;

const DEFAULT_URL = 'amqp://localhost';
const DEFAULTS = {
  socketOptions: {},
  connectionName: `tidings ${hostname()} ${process.pid}`,
  exchange: 'tidings',
  queueType: 'quorum',
  rejectUnroutable: true,
  maxMessageBytes: 16 * MiB,
  connectTimeoutMs: 10_000,
  publishTimeoutMs: 10_000,
  delayResolutionMs: 100,
  reconnect: { initialDelayMs: 100, maxDelayMs: 10_000 },
} satisfies Omit<ResolvedOptions, 'management' | 'urls'>;

/** The management plugin's default ports. */
const MANAGEMENT_PORT = { 'http:': '15672', 'https:': '15671' } as const;
const MANAGEMENT_TIMEOUT_MS = 2_000;

/** Fills in defaults and checks every field; a bad value is a `ConfigError` naming it. */
// `url` (as an object) and `socketOptions` are amqplib's own configuration, passed through, and stay open.
const OPTION_NAMES: OptionNames<RabbitMQAdapterOptions> = {
  url: true,
  socketOptions: true,
  connectionName: true,
  exchange: true,
  queueType: true,
  rejectUnroutable: true,
  maxMessageBytes: true,
  connectTimeoutMs: true,
  publishTimeoutMs: true,
  delayResolutionMs: true,
  reconnect: true,
  management: true,
};
const MANAGEMENT_NAMES: OptionNames<ManagementOptions> = {
  url: true,
  timeoutMs: true,
};
const RECONNECT_NAMES: OptionNames<ReconnectOptions> = {
  initialDelayMs: true,
  maxDelayMs: true,
};

export function resolveOptions(options: RabbitMQAdapterOptions): ResolvedOptions {
  checkOptionNames(options, OPTION_NAMES);
  checkOptionNames(options.reconnect, RECONNECT_NAMES, 'reconnect');
  if (options.management !== false) checkOptionNames(options.management, MANAGEMENT_NAMES, 'management');
  const reconnect = { ...DEFAULTS.reconnect, ...definedOnly(options.reconnect ?? {}) };
  const { management: _management, url, ...rest } = definedOnly(options);
  const resolved = { ...DEFAULTS, ...rest, reconnect, urls: resolveUrls(url) };

  checkInteger('maxMessageBytes', resolved.maxMessageBytes, 1, BROKER_MAX_MESSAGE_BYTES);
  checkInteger('connectTimeoutMs', resolved.connectTimeoutMs, 1);
  checkInteger('publishTimeoutMs', resolved.publishTimeoutMs, 1);
  checkInteger('delayResolutionMs', resolved.delayResolutionMs, 1, 60_000);
  checkInteger('reconnect.initialDelayMs', reconnect.initialDelayMs, 0);
  checkInteger('reconnect.maxDelayMs', reconnect.maxDelayMs, Math.max(1, reconnect.initialDelayMs));
  if (resolved.queueType !== 'quorum' && resolved.queueType !== 'classic') {
    throw new ConfigError('queueType', `must be 'quorum' or 'classic', got ${String(resolved.queueType)}`);
  }
  if (typeof resolved.rejectUnroutable !== 'boolean') {
    throw new ConfigError('rejectUnroutable', `must be a boolean, got ${String(resolved.rejectUnroutable)}`);
  }
  checkExchange(resolved.exchange);
  if (typeof resolved.connectionName !== 'string' || resolved.connectionName.length === 0) {
    throw new ConfigError('connectionName', 'must be a non-empty string');
  }
  // After the URL checks (in resolveUrls): the default management address is derived from it.
  return { ...resolved, management: resolveManagement(options.management, resolved) };
}

/**
 * The management API's address and login: the option's URL, or the AMQP URL's host on the
 * plugin's default port; the option URL's credentials, or else the AMQP ones (as amqplib reads
 * them: `guest`/`guest` when the URL has none).
 */
function resolveManagement(
  option: ManagementOptions | false | undefined,
  amqp: Pick<ResolvedOptions, 'urls' | 'socketOptions'>,
): ResolvedManagement | false {
  if (option === false) return false;
  if (option !== undefined && (typeof option !== 'object' || option === null)) {
    throw new ConfigError('management', `must be an object or false, got ${String(option)}`);
  }
  const timeoutMs = option?.timeoutMs ?? MANAGEMENT_TIMEOUT_MS;
  checkInteger('management.timeoutMs', timeoutMs, 1, 60_000);
  const login = amqpLogin(amqp);
  let base: URL;
  if (option?.url === undefined) {
    base = new URL(`${login.secure ? 'https:' : 'http:'}//${login.host}`);
    base.port = MANAGEMENT_PORT[base.protocol as keyof typeof MANAGEMENT_PORT];
  } else {
    if (typeof option.url !== 'string') throw new ConfigError('management.url', 'must be a string');
    try {
      base = new URL(option.url);
    } catch {
      throw new ConfigError('management.url', 'is not a valid URL; expected http://host:15672');
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new ConfigError('management.url', `must use http: or https:, got ${base.protocol}`);
    }
  }
  let { username, password } = login;
  if (base.username !== '' || base.password !== '') {
    username = decodeURIComponent(base.username);
    password = decodeURIComponent(base.password);
  }
  base.username = '';
  base.password = '';
  base.search = '';
  base.hash = '';
  if (!base.pathname.endsWith('/')) base.pathname = `${base.pathname}/`;
  return { url: base.href, username, password, vhost: login.vhost, timeoutMs };
}

/**
 * Host, login and virtual host of the AMQP settings, with amqplib's defaults: those of the first
 * node, for a cluster (every node serves the same management API).
 */
function amqpLogin(amqp: Pick<ResolvedOptions, 'urls' | 'socketOptions'>): {
  host: string;
  secure: boolean;
  username: string;
  password: string;
  vhost: string;
} {
  const { credentials } = amqp.socketOptions as { credentials?: { username?: unknown; password?: unknown } };
  const login = addressLogin(amqp.urls[0]);
  // Explicit PLAIN credentials of the socket options win over the URL's, as in amqplib.
  if (typeof credentials?.username === 'string' && typeof credentials.password === 'string') {
    return { ...login, username: credentials.username, password: credentials.password };
  }
  return login;
}

/** Host, login and virtual host of one address, with amqplib's defaults. */
function addressLogin(url: AmqpAddress): {
  host: string;
  secure: boolean;
  username: string;
  password: string;
  vhost: string;
} {
  if (typeof url === 'string') {
    const parsed = new URL(url);
    const named = parsed.username !== '' || parsed.password !== '';
    return {
      host: parsed.hostname,
      secure: parsed.protocol === 'amqps:',
      username: named ? decodeURIComponent(parsed.username) : 'guest',
      password: named ? decodeURIComponent(parsed.password) : 'guest',
      // As amqplib: the path without its leading '/', percent-decoded; none is the default vhost.
      vhost: parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : '/',
    };
  }
  const host = url.hostname ?? 'localhost';
  return {
    host: host.includes(':') && !host.startsWith('[') ? `[${host}]` : host,
    secure: url.protocol === 'amqps',
    username: url.username ?? 'guest',
    password: url.password ?? 'guest',
    vhost: url.vhost === undefined || url.vhost === '' ? '/' : url.vhost,
  };
}

/**
 * The `url` option as a list of one or more checked addresses. A list's entries must share their
 * virtual host: the adapter's exchange and queues live in one, whichever node it reaches.
 */
function resolveUrls(url: unknown): readonly [AmqpAddress, ...AmqpAddress[]] {
  if (url === undefined) return [DEFAULT_URL];
  if (!Array.isArray(url)) {
    checkUrl(url, 'url');
    return [url as AmqpAddress];
  }
  if (url.length === 0) throw new ConfigError('url', 'must name at least one node; the list is empty');
  url.forEach((entry: unknown, i) => {
    checkUrl(entry, `url[${i}]`);
  });
  const addresses = url as AmqpAddress[];
  const vhost = addressLogin(addresses[0]!).vhost;
  addresses.forEach((entry, i) => {
    const other = addressLogin(entry).vhost;
    if (other !== vhost) {
      throw new ConfigError(
        `url[${i}]`,
        `names virtual host ${JSON.stringify(other)}, url[0] ${JSON.stringify(vhost)}: a cluster's nodes must be given with the same one`,
      );
    }
  });
  return [addresses[0]!, ...addresses.slice(1)];
}

function checkUrl(url: unknown, field: string): void {
  if (typeof url === 'object' && url !== null && !Array.isArray(url)) return;
  if (typeof url !== 'string') {
    throw new ConfigError(field, 'must be an AMQP URL or an amqplib connection object, or a list of them');
  }
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new ConfigError(field, 'is not a valid URL; expected amqp://user:password@host:5672/vhost');
  }
  if (protocol !== 'amqp:' && protocol !== 'amqps:') {
    throw new ConfigError(field, `must use amqp: or amqps:, got ${protocol}`);
  }
}

function checkExchange(exchange: unknown): void {
  if (typeof exchange !== 'string' || exchange.length === 0) {
    throw new ConfigError('exchange', 'must be a non-empty string');
  }
  // Queue names are `<exchange>/<group>/<topic>`: a '/' in the exchange would make them ambiguous.
  if (exchange.includes('/')) throw new ConfigError('exchange', `must not contain '/', got "${exchange}"`);
  if (exchange.startsWith('amq.')) {
    throw new ConfigError('exchange', `the "amq." prefix is reserved by RabbitMQ, got "${exchange}"`);
  }
  if (Buffer.byteLength(exchange) > 200) {
    throw new ConfigError('exchange', 'must be at most 200 bytes, to leave room for the queue names');
  }
}
