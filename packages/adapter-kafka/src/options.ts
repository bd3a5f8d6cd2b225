import type { BaseOptions } from '@platformatic/kafka';
import {
  ConfigError,
  checkOptionNames,
  createRedactor,
  definedOnly,
  type OptionNames,
  type Redactor,
} from '@tidings/core/adapter';
import type { KafkaLogger, KafkaLogLevel } from './logging';
import { configSecrets, redactBroker, watchedSasl } from './secrets';
import {
  type KafkaSaslOptions,
  type KafkaTlsOptions,
  type KafkaTlsSettings,
  type ResolvedSasl,
  resolveSasl,
  resolveTls,
} from './security';

/**
 * The Kafka client library an adapter runs on. Every option of the adapter means the same on both,
 * and every guarantee holds on both; `docs/adapters/kafka.md` compares them.
 *
 * - `'platformatic'` (the default): [@platformatic/kafka](https://github.com/platformatic/kafka),
 *   maintained, with the adapter's own fetch loop over it.
 * - `'kafkajs'`: kafkajs 2.2, the client the adapter was first written on (no release since 2023).
 *
 * @example
 * ```ts
 * createKafkaAdapter({ brokers, client: 'kafkajs' });
 * ```
 */
export type KafkaClientName = 'platformatic' | 'kafkajs';

/** @internal The client an adapter runs on when its options name none. */
export const DEFAULT_CLIENT: KafkaClientName = 'platformatic';

/**
 * Settings of the kafkajs client (fields of its `KafkaConfig`), passed to `new Kafka()` over the
 * adapter's own: the escape hatch for what the adapter has no option of its own for (a
 * `socketFactory`, the connection `retry`, `authenticationTimeout`, the `aws` SASL mechanism...),
 * with `client: 'kafkajs'` only. The brokers and the logging stay the adapter's. It names its client
 * on purpose: it does not follow a change of client.
 *
 * kafkajs is an optional peer dependency, so this type does not name kafkajs's own: add
 * `satisfies Partial<KafkaConfig>` to have the settings checked against kafkajs's types.
 *
 * @example
 * ```ts
 * createKafkaAdapter({ brokers, client: 'kafkajs', kafkajs: { retry: { retries: 10 }, authenticationTimeout: 5_000 } });
 * ```
 */
export type KafkajsClientSettings = { readonly [setting: string]: unknown };

/**
 * Settings of the @platformatic/kafka clients (its `BaseOptions`), given to every admin, producer and
 * consumer the adapter makes, over the adapter's own: the escape hatch for what the adapter has no
 * option of its own for (the `GSSAPI` SASL mechanism, `retries` and `retryDelay` of its requests,
 * `metadataMaxAge`, `metrics`...), with `client: 'platformatic'` only. The brokers and the client id
 * stay the adapter's.
 *
 * @example
 * ```ts
 * createKafkaAdapter({ brokers, client: 'platformatic', platformatic: { retries: 5, retryDelay: 500 } });
 * ```
 */
export type PlatformaticClientSettings = Partial<Omit<BaseOptions, 'bootstrapBrokers' | 'clientId'>>;

/**
 * Compression of produced record batches. Everything but `gzip` needs a codec registered with kafkajs.
 *
 * @example
 * ```ts
 * createKafkaAdapter({ brokers, producer: { compression: 'gzip' } });
 * ```
 */
export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/**
 * Settings of the producer every adapter owns.
 *
 * @example
 * ```ts
 * createKafkaAdapter({ brokers, producer: { compression: 'gzip', publishTimeoutMs: 10_000 } });
 * ```
 */
export interface KafkaProducerOptions {
  /** Compression of record batches. Default `'none'`. */
  readonly compression?: KafkaCompression;
  /**
   * How long `publish` waits for the broker's acknowledgement, queueing included, before it rejects
   * with a `PublishError`. Default 30,000 ms.
   */
  readonly publishTimeoutMs?: number;
  /** Retries of one send (kafkajs backoff) before the publish fails. Default 5. */
  readonly retries?: number;
}

/**
 * Settings of the consumer behind each subscription.
 *
 * @example
 * ```ts
 * createKafkaAdapter({ brokers, consumer: { sessionTimeoutMs: 45_000, maxBufferedRecords: 5_000 } });
 * ```
 */
export interface KafkaConsumerOptions {
  /** The group coordinator drops a member silent for this long. Default 30,000 ms. */
  readonly sessionTimeoutMs?: number;
  /** How often a member tells the coordinator it is alive, and learns of rebalances. Default 3,000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** How long the coordinator waits for every member to rejoin during a rebalance. Default 60,000 ms. */
  readonly rebalanceTimeoutMs?: number;
  /**
   * Longest a fetch waits on the broker for new records. It bounds how long a resumed partition and
   * `close()` wait for the fetch in progress. Default 500 ms.
   */
  readonly maxWaitTimeMs?: number;
  /** Largest amount of data a fetch returns per partition. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
  /**
   * Records a subscription holds per partition, fetched and not yet settled, before it pauses fetching
   * that partition (backpressure). It resumes at half. Default 1,000; a subscription whose
   * prefetch is larger buffers that many instead.
   */
  readonly maxBufferedRecords?: number;
  /** How often settled positions are committed; close and rebalances commit at once. Default 200 ms. */
  readonly commitIntervalMs?: number;
  /**
   * How long `subscribe` waits to join the group and be given its partitions. Default 60,000 ms
   * (joining may wait for a previous owner to drain its partitions, see the docs).
   */
  readonly subscribeTimeoutMs?: number;
}

/**
 * Creation of topics through the admin client.
 *
 * @example
 * ```ts
 * createKafkaAdapter({ brokers, topics: { partitions: 12, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } } });
 * ```
 */
export interface KafkaTopicOptions {
  /**
   * Create missing topics (subscribed, published, retry and dead-letter topics) before use. With
   * `false` they must exist: subscribing to a missing topic fails with a `ConfigError`. Default true.
   */
  readonly create?: boolean;
  /** Partitions of created topics. Default: the broker's `num.partitions`. */
  readonly partitions?: number;
  /** Replication factor of created topics. Default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  /** Topic-level configs of created topics, e.g. `{ 'retention.ms': '604800000' }`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/**
 * Names the retry topic of a topic, consumer group and delay tier.
 *
 * @example
 * ```ts
 * const name: RetryTopicNamer = (topic, group, tierMs) => `retry.${group}.${topic}.${tierMs}`;
 * ```
 */
export type RetryTopicNamer = (topic: string, group: string, tierMs: number) => string;

/**
 * Non-blocking retries through retry topics, for subscriptions with `ordering: 'none'`.
 *
 * @example
 * ```ts
 * createKafkaAdapter({ brokers, retryTopics: { tiersMs: [0, 30_000, 300_000] } });
 * ```
 */
export interface KafkaRetryTopicOptions {
  /**
   * Delay tiers: the lower bound of each, in milliseconds, ascending, starting at 0. A retry goes to
   * the topic of the highest tier not above its delay, so long delays never wait in front of short
   * ones. Default `[0, 10_000, 60_000]`.
   */
  readonly tiersMs?: readonly number[];
  /** Names the retry topics. Default `<topic>.<group>.retry-<tier>`, e.g. `orders.billing.retry-10s`. */
  readonly name?: RetryTopicNamer;
}

/**
 * Settings of {@link createKafkaAdapter}. Only `brokers` is required.
 *
 * @example
 * ```ts
 * const options: KafkaAdapterOptions = { brokers: ['kafka-1:9092', 'kafka-2:9092'], clientId: 'billing', ssl: true };
 * ```
 */
export interface KafkaAdapterOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** The client library to run on (see {@link KafkaClientName}). Default `'platformatic'`. */
  readonly client?: KafkaClientName;
  /** Client id sent to the brokers (quotas, logs). Default `tidings`. */
  readonly clientId?: string;
  /** TLS: `true` to trust the system's CAs, or the certificates and checks to use. Default: none. */
  readonly ssl?: KafkaTlsOptions;
  /** SASL authentication: PLAIN, SCRAM-SHA-256/512 or OAUTHBEARER. Default: none. */
  readonly sasl?: KafkaSaslOptions;
  /** Time to open a connection to a broker. Default 3,000 ms. */
  readonly connectionTimeoutMs?: number;
  /** Time a broker has to answer a request. Default 30,000 ms. */
  readonly requestTimeoutMs?: number;
  /**
   * Largest record body accepted, in bytes. Keep it below the broker's `message.max.bytes` (1 MiB by
   * default), leaving room for the key and headers. Default 1,000,000.
   */
  readonly maxMessageBytes?: number;
  readonly producer?: KafkaProducerOptions;
  readonly consumer?: KafkaConsumerOptions;
  readonly topics?: KafkaTopicOptions;
  /** Retry topics for unordered subscriptions, or `false` to retry every record in the consumer. */
  readonly retryTopics?: KafkaRetryTopicOptions | false;
  /**
   * Receives the adapter's log entries, and kafkajs's when it runs on kafkajs. Default: none, and
   * kafkajs is silenced.
   */
  readonly logger?: KafkaLogger;
  /** Least severe level passed to `logger`. Default `'warn'`. */
  readonly logLevel?: KafkaLogLevel;
  /**
   * Settings of the kafkajs client itself, with `client: 'kafkajs'` (see
   * {@link KafkajsClientSettings}). Formerly `kafkaConfig`.
   */
  readonly kafkajs?: KafkajsClientSettings;
  /**
   * Settings of the @platformatic/kafka clients themselves, with `client: 'platformatic'` (see
   * {@link PlatformaticClientSettings}).
   */
  readonly platformatic?: PlatformaticClientSettings;
}

/** @internal Every setting with its default filled in. */
export interface ResolvedKafkaOptions {
  readonly client: KafkaClientName;
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly producer: Required<KafkaProducerOptions>;
  readonly consumer: Required<KafkaConsumerOptions>;
  readonly topics: {
    readonly create: boolean;
    readonly partitions: number | undefined;
    readonly replicationFactor: number | undefined;
    readonly configs: Readonly<Record<string, string>>;
  };
  readonly retryTopics: { readonly tiersMs: readonly number[]; readonly name: RetryTopicNamer } | false;
  readonly logger: KafkaLogger | undefined;
  readonly logLevel: KafkaLogLevel;
  /** TLS settings for `tls.connect` (`{}`: Node's defaults), or `undefined` for plain TCP. */
  readonly tls: KafkaTlsSettings | undefined;
  readonly sasl: ResolvedSasl | undefined;
  /** The kafkajs escape hatch, its SASL credential providers watched by the redactor. */
  readonly kafkajs: KafkajsClientSettings;
  /** The @platformatic/kafka escape hatch, its SASL credential providers watched by the redactor. */
  readonly platformatic: PlatformaticClientSettings;
  /**
   * Removes the options' secrets (SASL, TLS), and OAuth bearer tokens as the provider hands them
   * out, from everything the adapter says.
   */
  readonly redactor: Redactor;
}

/**
 * The default retry topic name: `<topic>.<group>.retry-<tier>`, with the tier in readable units.
 *
 * @example
 * ```ts
 * defaultRetryTopicName('orders', 'billing', 10_000); // 'orders.billing.retry-10s'
 * ```
 */
export const defaultRetryTopicName: RetryTopicNamer = (topic, group, tierMs) =>
  `${topic}.${group}.retry-${formatDuration(tierMs)}`;

const PRODUCER_DEFAULTS: Required<KafkaProducerOptions> = {
  compression: 'none',
  publishTimeoutMs: 30_000,
  retries: 5,
};

const CONSUMER_DEFAULTS: Required<KafkaConsumerOptions> = {
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  rebalanceTimeoutMs: 60_000,
  maxWaitTimeMs: 500,
  maxBytesPerPartition: 1024 * 1024,
  maxBufferedRecords: 1_000,
  commitIntervalMs: 200,
  subscribeTimeoutMs: 60_000,
};

const DEFAULT_TIERS_MS: readonly number[] = Object.freeze([0, 10_000, 60_000]);
const COMPRESSIONS: readonly KafkaCompression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const LOG_LEVELS: readonly KafkaLogLevel[] = ['error', 'warn', 'info', 'debug'];

// Our own option objects are checked for unknown names (`ssl` and `sasl` in security.ts); `kafkajs`
// and `platformatic` are the clients' own configurations, passed through, and stay open.
const OPTION_NAMES: OptionNames<KafkaAdapterOptions> = {
  brokers: true,
  client: true,
  clientId: true,
  ssl: true,
  sasl: true,
  connectionTimeoutMs: true,
  requestTimeoutMs: true,
  maxMessageBytes: true,
  producer: true,
  consumer: true,
  topics: true,
  retryTopics: true,
  logger: true,
  logLevel: true,
  kafkajs: true,
  platformatic: true,
};
const CLIENTS: readonly KafkaClientName[] = ['platformatic', 'kafkajs'];
const PRODUCER_NAMES: OptionNames<KafkaProducerOptions> = {
  compression: true,
  publishTimeoutMs: true,
  retries: true,
};
const CONSUMER_NAMES: OptionNames<KafkaConsumerOptions> = {
  sessionTimeoutMs: true,
  heartbeatIntervalMs: true,
  rebalanceTimeoutMs: true,
  maxWaitTimeMs: true,
  maxBytesPerPartition: true,
  maxBufferedRecords: true,
  commitIntervalMs: true,
  subscribeTimeoutMs: true,
};
const TOPIC_NAMES: OptionNames<KafkaTopicOptions> = {
  create: true,
  partitions: true,
  replicationFactor: true,
  configs: true,
};
const RETRY_TOPIC_NAMES: OptionNames<KafkaRetryTopicOptions> = {
  tiersMs: true,
  name: true,
};

/** @internal Fills in defaults and checks every setting; a bad one is a `ConfigError` naming it. */
export function resolveOptions(options: KafkaAdapterOptions): ResolvedKafkaOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError('options', "pass the adapter's settings, at least { brokers: ['host:9092'] }");
  }
  if (Object.hasOwn(options, 'kafkaConfig')) {
    // Renamed before 1.0; its settings are unchanged, so the fix is the name alone.
    throw new ConfigError(
      'kafkaConfig',
      "was renamed: pass the same kafkajs settings as `kafkajs: { ... }`, with client: 'kafkajs'",
    );
  }
  checkOptionNames(options, OPTION_NAMES);
  checkOptionNames(options.producer, PRODUCER_NAMES, 'producer');
  checkOptionNames(options.consumer, CONSUMER_NAMES, 'consumer');
  checkOptionNames(options.topics, TOPIC_NAMES, 'topics');
  if (options.retryTopics !== false) checkOptionNames(options.retryTopics, RETRY_TOPIC_NAMES, 'retryTopics');
  const brokers = options.brokers;
  if (!Array.isArray(brokers) || brokers.length === 0) {
    throw new ConfigError('brokers', "at least one broker is required, e.g. ['127.0.0.1:9092']");
  }
  brokers.forEach((broker, i) => {
    if (typeof broker !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(broker)) {
      // A URL with credentials pasted here must not end up in the error.
      const shown = typeof broker === 'string' ? JSON.stringify(redactBroker(broker)) : typeof broker;
      throw new ConfigError(`brokers[${i}]`, `must be "host:port", got ${shown}`);
    }
  });
  const clientId = options.clientId ?? 'tidings';
  if (typeof clientId !== 'string' || clientId.length === 0) {
    throw new ConfigError('clientId', 'must be a non-empty string');
  }

  const producer = { ...PRODUCER_DEFAULTS, ...definedOnly(options.producer) };
  if (!COMPRESSIONS.includes(producer.compression)) {
    throw new ConfigError(
      'producer.compression',
      `must be one of ${COMPRESSIONS.join(', ')}, got ${String(producer.compression)}`,
    );
  }
  integer('producer.publishTimeoutMs', producer.publishTimeoutMs, 1);
  integer('producer.retries', producer.retries, 0, 100);

  const consumer = { ...CONSUMER_DEFAULTS, ...definedOnly(options.consumer) };
  integer('consumer.sessionTimeoutMs', consumer.sessionTimeoutMs, 1);
  integer('consumer.heartbeatIntervalMs', consumer.heartbeatIntervalMs, 1);
  if (consumer.heartbeatIntervalMs >= consumer.sessionTimeoutMs) {
    throw new ConfigError(
      'consumer.heartbeatIntervalMs',
      `must be below consumer.sessionTimeoutMs (${consumer.sessionTimeoutMs}); about a third of it is usual`,
    );
  }
  integer('consumer.rebalanceTimeoutMs', consumer.rebalanceTimeoutMs, 1);
  integer('consumer.maxWaitTimeMs', consumer.maxWaitTimeMs, 0);
  integer('consumer.maxBytesPerPartition', consumer.maxBytesPerPartition, 1);
  integer('consumer.maxBufferedRecords', consumer.maxBufferedRecords, 1);
  integer('consumer.commitIntervalMs', consumer.commitIntervalMs, 0);
  integer('consumer.subscribeTimeoutMs', consumer.subscribeTimeoutMs, 1);

  const topicOptions = options.topics ?? {};
  const topics = {
    create: topicOptions.create ?? true,
    partitions: topicOptions.partitions,
    replicationFactor: topicOptions.replicationFactor,
    configs: topicOptions.configs ?? {},
  };
  if (typeof topics.create !== 'boolean') throw new ConfigError('topics.create', 'must be a boolean');
  if (topics.partitions !== undefined) integer('topics.partitions', topics.partitions, 1);
  if (topics.replicationFactor !== undefined) {
    integer('topics.replicationFactor', topics.replicationFactor, 1);
  }
  for (const [name, value] of Object.entries(topics.configs)) {
    if (typeof value !== 'string') throw new ConfigError(`topics.configs.${name}`, 'must be a string');
  }

  const retryTopics = resolveRetryTopics(options.retryTopics);

  const maxMessageBytes = options.maxMessageBytes ?? 1_000_000;
  integer('maxMessageBytes', maxMessageBytes, 1);
  const connectionTimeoutMs = options.connectionTimeoutMs ?? 3_000;
  integer('connectionTimeoutMs', connectionTimeoutMs, 1);
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  integer('requestTimeoutMs', requestTimeoutMs, 1);

  const logLevel = options.logLevel ?? 'warn';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}, got ${String(logLevel)}`);
  }
  if (options.logger !== undefined && typeof options.logger !== 'function') {
    throw new ConfigError('logger', 'must be a function that receives log entries');
  }

  const client = options.client ?? DEFAULT_CLIENT;
  if (!CLIENTS.includes(client)) {
    throw new ConfigError(
      'client',
      `must be one of ${CLIENTS.join(', ')}, got ${JSON.stringify(client) ?? 'nothing'}`,
    );
  }
  const kafkajs = escapeHatch(options, 'kafkajs', client);
  const platformatic = escapeHatch(options, 'platformatic', client);
  const tls = resolveTls(options.ssl);
  const late: { redactor?: Redactor } = {};
  const sasl = resolveSasl(options.sasl, (token) => late.redactor?.learn(token));
  const redactor = createRedactor([
    ...(sasl !== undefined && 'password' in sasl ? [sasl.password] : []),
    ...configSecrets({ ssl: tls }),
    ...configSecrets(kafkajs),
    ...configSecrets(platformatic),
  ]);
  late.redactor = redactor;

  return {
    client,
    brokers: [...brokers],
    clientId,
    connectionTimeoutMs,
    requestTimeoutMs,
    maxMessageBytes,
    producer,
    consumer,
    topics,
    retryTopics,
    logger: options.logger,
    logLevel,
    tls,
    sasl,
    kafkajs: watchedHatch(kafkajs, redactor),
    platformatic: watchedHatch(platformatic, redactor),
    redactor,
  };
}

/**
 * The escape hatch named `name`, checked: an object, and given only with the client it belongs to
 * (the other client would silently ignore it).
 */
function escapeHatch<TName extends KafkaClientName>(
  options: KafkaAdapterOptions,
  name: TName,
  client: KafkaClientName,
): TName extends 'kafkajs' ? KafkajsClientSettings : PlatformaticClientSettings {
  const settings: unknown = options[name];
  if (settings === undefined) return {} as never;
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
    throw new ConfigError(
      name,
      `must be an object of ${name === 'kafkajs' ? 'kafkajs' : '@platformatic/kafka'} client settings`,
    );
  }
  if (client !== name) {
    throw new ConfigError(
      name,
      `holds settings of the ${name} client, but the adapter runs on ${client}: set client: '${name}', or move them to the adapter's own options`,
    );
  }
  return settings as never;
}

/** An escape hatch with its SASL credential providers watched, so that what they return is redacted. */
function watchedHatch<T extends { readonly sasl?: unknown }>(settings: T, redactor: Redactor): T {
  return settings.sasl === undefined ? settings : { ...settings, sasl: watchedSasl(settings.sasl, redactor) };
}

function resolveRetryTopics(
  options: KafkaRetryTopicOptions | false | undefined,
): ResolvedKafkaOptions['retryTopics'] {
  if (options === false) return false;
  const tiersMs = options?.tiersMs ?? DEFAULT_TIERS_MS;
  if (!Array.isArray(tiersMs) || tiersMs.length === 0 || tiersMs[0] !== 0) {
    throw new ConfigError('retryTopics.tiersMs', 'must be a non-empty list of delays starting at 0');
  }
  tiersMs.forEach((tier, i) => {
    integer(`retryTopics.tiersMs[${i}]`, tier, 0);
    if (i > 0 && tier <= tiersMs[i - 1]!) {
      throw new ConfigError(`retryTopics.tiersMs[${i}]`, 'tiers must be in ascending order');
    }
  });
  const name = options?.name ?? defaultRetryTopicName;
  if (typeof name !== 'function') throw new ConfigError('retryTopics.name', 'must be a function');
  return { tiersMs: Object.freeze([...tiersMs]), name };
}

/** @internal `90000` → `90s`, `60000` → `1m`, `1500` → `1500ms`: the largest unit that divides evenly. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function integer(field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(field, `must be an integer ${range}, got ${String(value)}`);
  }
}
