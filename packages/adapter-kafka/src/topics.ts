import type { AnyEventContract, TopicNamer } from '@tidings/core';
import { ConfigError, type Redactor, sleep } from '@tidings/core/adapter';
import type { KafkaAdminClient } from './client/admin';
import type { ResolvedKafkaOptions } from './options';

const LEGAL_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Why `name` cannot be a Kafka topic, or undefined when it can. Kafka allows ASCII letters, digits,
 * `.`, `_` and `-`, at most 249 characters, and not `.` or `..`.
 *
 * @example
 * ```ts
 * topicNameProblem('orders.placed'); // undefined
 * topicNameProblem('zamówienia'); // 'topic "zamówienia" has characters Kafka does not allow; ...'
 * ```
 */
export function topicNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'a topic name must be a non-empty string';
  if (name === '.' || name === '..') return `"${name}" is not a legal Kafka topic name`;
  if (name.length > 249) return `topic "${name.slice(0, 40)}…" is longer than Kafka's 249 characters`;
  if (!LEGAL_NAME.test(name)) {
    return `topic "${name}" has characters Kafka does not allow; use only a-z, A-Z, 0-9, ".", "_" and "-"`;
  }
  return undefined;
}

/**
 * Settings of {@link kafkaTopicNamer}.
 *
 * @example
 * ```ts
 * const topic = kafkaTopicNamer({ prefix: 'prod.', versioned: true });
 * ```
 */
export interface KafkaTopicNamerOptions {
  /** Put before every topic, e.g. an environment or domain: `prod.`. Default none. */
  readonly prefix?: string;
  /** Append the contract version as `.v<version>`, for breaking changes kept apart. Default false. */
  readonly versioned?: boolean;
}

/**
 * A topic naming strategy for the bus (`createBus({ topic })`) that maps each contract to a legal
 * Kafka topic: `prefix + (contract.topic ?? contract.type) + ('.v' + version)`. It throws a
 * `ConfigError` naming the contract when the result is not a legal topic name, so a bad name fails
 * at the first publish or subscribe instead of at the broker.
 *
 * @example
 * ```ts
 * const bus = createBus({
 *   source: 'billing',
 *   adapter: createKafkaAdapter({ brokers: ['127.0.0.1:9092'] }),
 *   topic: kafkaTopicNamer({ prefix: 'shop.', versioned: true }), // order.placed v2 → shop.order.placed.v2
 * });
 * ```
 */
export function kafkaTopicNamer(options: KafkaTopicNamerOptions = {}): TopicNamer {
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string') throw new ConfigError('prefix', 'must be a string');
  const versioned = options.versioned ?? false;
  return (contract: AnyEventContract) => {
    const base = contract.topic ?? contract.type;
    const name = versioned ? `${prefix}${base}.v${contract.version}` : `${prefix}${base}`;
    const problem = topicNameProblem(name);
    if (problem !== undefined) throw new ConfigError('topic', `contract "${contract.type}": ${problem}`);
    return name;
  };
}

/**
 * @internal The broker's default `message.max.bytes`, the largest record batch a topic without a
 * `max.message.bytes` of its own takes (1 MiB and the batch header).
 */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/**
 * @internal Creates missing topics through the admin client, once per topic and adapter, and reads
 * their size limit.
 */
export class TopicManager {
  private readonly known = new Map<string, Promise<void>>();
  /** Topics whose check or creation succeeded: a publish to them needs no promise at all. */
  private readonly ready = new Set<string>();
  private readonly limits = new Map<string, Promise<number>>();

  constructor(
    private readonly admin: () => Promise<KafkaAdminClient>,
    private readonly options: ResolvedKafkaOptions['topics'],
    private readonly redactor: Redactor,
  ) {}

  /**
   * Makes sure the topics exist: creates the missing ones when allowed, else checks for them and
   * throws a `ConfigError` listing the missing ones.
   */
  async ensure(topics: readonly string[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const topic of new Set(topics)) {
      let known = this.known.get(topic);
      if (known === undefined) {
        known = (this.options.create ? this.create(topic) : this.check(topic)).then(() => {
          this.ready.add(topic);
        });
        this.known.set(topic, known);
        // Forget failures, so that a later call tries again.
        known.catch(() => this.known.delete(topic));
      }
      waits.push(known);
    }
    await Promise.all(waits);
  }

  /**
   * Whether every record's topic is known to exist already, so that {@link ensure} has nothing to
   * wait for: checked per publish without a Set, an array or a promise per call.
   */
  allReady(records: readonly { readonly topic: string }[]): boolean {
    for (let i = 0; i < records.length; i++) if (!this.ready.has(records[i]!.topic)) return false;
    return true;
  }

  /**
   * The largest record batch the broker takes for `topic`: its `max.message.bytes` (the topic's own,
   * else the broker's), read once. Kafka's default when it cannot be read (no `DescribeConfigs`
   * permission): a refusal by the broker then tells the rest.
   */
  maxMessageBytes(topic: string): Promise<number> {
    let limit = this.limits.get(topic);
    if (limit === undefined) {
      limit = this.readLimit(topic);
      this.limits.set(topic, limit);
    }
    return limit;
  }

  /** Reads the limit of `topic` again next time: the broker refused a record the limit allowed. */
  forgetLimit(topic: string): void {
    this.limits.delete(topic);
  }

  private async readLimit(topic: string): Promise<number> {
    try {
      const admin = await this.admin();
      const value = Number((await admin.topicConfigs(topic, ['max.message.bytes'])).get('max.message.bytes'));
      if (Number.isSafeInteger(value) && value > 0) return value;
    } catch {
      // Not allowed, or not reachable: the default below, corrected by the broker's answer.
    }
    return KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  }

  private async create(topic: string): Promise<void> {
    const admin = await this.admin();
    await admin.createTopic(
      {
        topic,
        ...(this.options.partitions === undefined ? {} : { partitions: this.options.partitions }),
        ...(this.options.replicationFactor === undefined
          ? {}
          : { replicationFactor: this.options.replicationFactor }),
        configs: this.options.configs,
      },
      { waitForLeaders: false },
    );
    // Whether we created it or someone else just did, wait until every partition has a leader:
    // a consumer that subscribes before that is told the topic does not exist.
    await untilServed(admin, topic);
  }

  private async check(topic: string): Promise<void> {
    const admin = await this.admin();
    try {
      await untilServed(admin, topic, 0);
    } catch (error) {
      if (error instanceof TopicNotServedError && error.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
        throw new ConfigError(
          'topics',
          `topic "${topic}" does not exist and topics.create is false; create it, or let the adapter create topics`,
          { cause: this.redactor.error(error) },
        );
      }
      throw error;
    }
  }
}

/**
 * Resolves once the brokers serve every partition of `topic`; retries for up to `patienceMs`. On a
 * cluster a topic just created is unknown for a moment to the brokers whose metadata has not caught
 * up (UNKNOWN_TOPIC_OR_PARTITION), which kafkajs's own `waitForLeaders` does not wait out.
 */
export async function untilServed(
  admin: KafkaAdminClient,
  topic: string,
  patienceMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + patienceMs;
  for (let attempt = 0; ; attempt++) {
    const { error, partitions } = await admin.topicInfo(topic);
    if (error === undefined) {
      if (partitions.length > 0 && partitions.every((p) => p.error === undefined && p.leader >= 0)) return;
      if (Date.now() >= deadline) throw new Error(`topic "${topic}" has partitions without a leader`);
    } else if (!NOT_YET_SERVED.has(error) || Date.now() >= deadline) {
      throw new TopicNotServedError(topic, error);
    }
    await sleep(Math.min(50 * 2 ** attempt, 500));
  }
}

/**
 * A topic the brokers do not serve (yet). `type` is Kafka's error name, where `errors.ts` looks for
 * one, whichever client the adapter runs on.
 */
class TopicNotServedError extends Error {
  override readonly name = 'TopicNotServedError';
  constructor(
    topic: string,
    readonly type: string,
  ) {
    super(`topic "${topic}" is not served: ${type}`);
  }
}

const NOT_YET_SERVED = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);
