import net from 'node:net';
import type { BrokerAdapter } from '@tidings/core/adapter';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { createKafkaAdapter, type KafkaAdapterOptions } from '../src';

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
export function testAdapter(overrides: Partial<KafkaAdapterOptions> = {}): BrokerAdapter {
  return createKafkaAdapter({
    brokers: BROKERS,
    clientId: 'tidings-test',
    ...overrides,
    consumer: { ...TEST_CONSUMER, ...overrides.consumer },
  });
}

/** A name no other test run uses: `<prefix>-<label>-<random>`. */
export function uniqueName(prefix: string, label: string): string {
  return `${prefix}-${label}-${Math.random().toString(36).slice(2, 8)}`;
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

/**
 * A kafkajs socket factory that remembers the sockets it opens, so a test can cut them as a broker
 * or a network would (the conformance suite's reconnect scenario).
 */
export function trackingSocketFactory(sockets: Set<net.Socket>) {
  return ({ host, port, onConnect }: { host: string; port: number; onConnect: () => void }): net.Socket => {
    const socket = net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    return socket;
  };
}

/** Resets every socket in `sockets`, as a dropped connection would. */
export function dropSockets(sockets: Set<net.Socket>): void {
  for (const socket of sockets) {
    socket.destroy(Object.assign(new Error('connection reset by the test'), { code: 'ECONNRESET' }));
  }
}
