import type { LogCapture } from '@tidings/conformance';
import type { BrokerAdapter, OutgoingRecord, SubscribeSpec } from '@tidings/core/adapter';
import { type Admin, Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, afterEach } from 'vitest';
import { createKafkaAdapter, type KafkaAdapter, type KafkaAdapterOptions, type KafkaLogger } from '../src';
import { TEST_CLIENT } from './clients';

/** The broker started by tools/kafka/kafka.sh (see test/global-setup.ts). */
export const BROKERS = [`127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`];

/**
 * Consumer settings for tests: a short session so a killed member leaves quickly, frequent heartbeats
 * so rebalances are noticed quickly, short fetch waits so closing is quick.
 */
export const TEST_CONSUMER = {
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 500,
  rebalanceTimeoutMs: 20_000,
  maxWaitTimeMs: 100,
} as const;

/** A Kafka adapter for tests; `overrides` are merged over the test defaults. */
export function testAdapter(overrides: Partial<KafkaAdapterOptions> = {}): KafkaAdapter {
  return createKafkaAdapter({
    brokers: BROKERS,
    clientId: 'tidings-test',
    client: TEST_CLIENT,
    ...overrides,
    consumer: { ...TEST_CONSUMER, ...overrides.consumer },
  });
}

/**
 * The adapter's logger writing into `logs`, so that a test reads and waits on the adapter's own
 * lines (and kafkajs's) as it does on a bus's; the entry's namespace goes into the fields.
 */
export function loggingTo(logs: LogCapture): KafkaLogger {
  return (entry) => logs[entry.level]({ namespace: entry.namespace, ...entry.fields }, entry.message);
}

/** A prefix for one test file's topics and groups. */
export function testNamespace(label: string): string {
  return `tk${label}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
}

let adminClient: Promise<Admin> | undefined;

/** A kafkajs admin client of the tests' own, for setup and cleanup. */
export function testAdmin(): Promise<Admin> {
  adminClient ??= (async () => {
    const kafka = new Kafka({ clientId: 'tidings-test-admin', brokers: BROKERS, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    return admin;
  })();
  return adminClient;
}

let rawProducer: Promise<Producer> | undefined;

/** A record as a foreign producer writes it: any key, headers and bytes. */
export interface RawKafkaRecord {
  readonly key: string | Buffer | null;
  readonly headers: Readonly<Record<string, string | Buffer>>;
  readonly body: Uint8Array | null;
}

/**
 * Writes records with a plain kafkajs producer of the tests' own, bypassing the adapter: the key as
 * the Kafka key, the headers as Kafka headers (a prototype-free object keeps `__proto__` a header),
 * the body as the value.
 */
export async function rawProduce(
  topic: string,
  records: readonly RawKafkaRecord[],
  partition?: number,
): Promise<void> {
  rawProducer ??= (async () => {
    const kafka = new Kafka({ clientId: 'tidings-test-raw', brokers: BROKERS, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    return producer;
  })();
  const producer = await rawProducer;
  await producer.send({
    topic,
    acks: -1,
    messages: records.map((record) => ({
      key: record.key,
      value: record.body === null ? null : Buffer.from(record.body),
      headers: record.headers as Record<string, string | Buffer>,
      ...(partition === undefined ? {} : { partition }),
    })),
  });
}

/** Disconnects the raw producer of {@link rawProduce}. */
export async function closeRawProducer(): Promise<void> {
  const producer = await rawProducer;
  rawProducer = undefined;
  await producer?.disconnect();
}

/** Deletes every topic and consumer group whose name starts with `prefix`. */
export async function deleteByPrefix(prefix: string): Promise<void> {
  const admin = await testAdmin();
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  const { groups } = await admin.listGroups();
  const mine = groups.map((group) => group.groupId).filter((group) => group.startsWith(prefix));
  if (mine.length > 0) await admin.deleteGroups(mine).catch(() => undefined);
}

/** Disconnects the tests' admin client. */
export async function closeTestAdmin(): Promise<void> {
  const admin = await adminClient;
  adminClient = undefined;
  await admin?.disconnect();
}

/** What a test file gets from {@link useKafka}. */
export interface KafkaTestFixture {
  /** The prefix of every topic and group of the file. */
  readonly namespace: string;
  /** A connected test adapter, closed after the current test. */
  adapter(overrides?: Partial<KafkaAdapterOptions>): Promise<KafkaAdapter>;
  /** A topic and a group no other test uses. */
  names(label: string): { topic: string; group: string };
}

/**
 * Sets a test file up against the broker: adapters it opens are closed after each test, and every
 * topic and group under its namespace is deleted after the last one.
 */
export function useKafka(label: string): KafkaTestFixture {
  const namespace = testNamespace(label);
  const open: BrokerAdapter[] = [];
  let counter = 0;
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((a) => a.close({ signal: AbortSignal.timeout(10_000) })));
  });
  afterAll(async () => {
    await deleteByPrefix(namespace);
    await closeTestAdmin();
  });
  return {
    namespace,
    async adapter(overrides = {}) {
      const created = testAdapter(overrides);
      open.push(created);
      await created.connect();
      return created;
    },
    names(name) {
      counter++;
      return { topic: `${namespace}-${name}-${counter}`, group: `${namespace}-g-${name}-${counter}` };
    },
  };
}

/** A subscribe spec with the tests' defaults: ordered, from the earliest offset. */
export function subscribeSpec(
  group: string,
  topic: string,
  overrides: Partial<SubscribeSpec> = {},
): SubscribeSpec {
  return {
    group,
    topics: [topic],
    concurrency: 8,
    prefetch: overrides.concurrency ?? 8,
    ordering: 'key',
    startFrom: 'earliest',
    maxAttempts: 5,
    handlerTimeoutMs: 10_000,
    ...overrides,
  };
}

/** `count` records with bodies `<prefix>-<i>` and keys `k<i % keys>`. */
export function testRecords(topic: string, prefix: string, count: number, keys = count): OutgoingRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    topic,
    key: `k${i % keys}`,
    headers: {},
    body: Buffer.from(`${prefix}-${i}`),
  }));
}

/** Resolves after `ms`: only to check that something does not happen within a window. */
export function quietPeriod(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
