import { execFile } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import type net from 'node:net';
import { promisify } from 'node:util';
import { createKafkaAdapter } from '@tidings/adapter-kafka';
import { createNatsAdapter, type NatsAdapter } from '@tidings/adapter-nats';
import { createRabbitMQAdapter } from '@tidings/adapter-rabbitmq';
import { createRedisStreamsAdapter, type RedisStreamsAdapter } from '@tidings/adapter-redis-streams';
import { type BrokerAdapter, createMemoryAdapter, createMemoryBroker } from '@tidings/core';
import { createJournalAdapter } from './journal-adapter';

/** A broker the outbox suite runs against. */
export interface BrokerFixture {
  /** Shown in test titles. */
  readonly name: string;
  /** Prefix of every topic and group the suite makes, when cleanup finds them by it. */
  readonly namespace?: string;
  /**
   * How a relay child process reaches this broker (see {@link brokerByName}); `undefined` for a
   * broker that lives in this process only (the in-memory one).
   */
  readonly childName: string | undefined;
  /** A new adapter on the broker under test, not connected yet. Every one reaches the same broker. */
  createAdapter(): BrokerAdapter;
  /** Fails, with what to do, when the broker is not running. */
  require?(): Promise<void>;
  /** Deletes what the suite made on the broker. */
  cleanup?(): Promise<void>;
  /** Makes the broker drop `adapter`'s connections, as a broker restart or a network cut would. */
  dropConnections?(adapter: BrokerAdapter): Promise<void>;
}

const run = promisify(execFile);
const unique = (label: string) =>
  `${label}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** Connects once, or fails saying which service is missing and how to start it. */
async function requireBroker(name: string, address: string, adapter: BrokerAdapter): Promise<void> {
  try {
    await adapter.connect();
  } catch (error) {
    throw new Error(
      `${name} is not reachable at ${address} (${(error as Error).message}). ` +
        'Start it with `bash tools/services.sh` from the repository root.',
    );
  } finally {
    await adapter.close().catch(() => undefined);
  }
}

/** The in-memory broker: one per test file, shared by every adapter the fixture makes. */
export function memoryFixture(): BrokerFixture {
  const broker = createMemoryBroker();
  return { name: 'memory', childName: undefined, createAdapter: () => createMemoryAdapter({ broker }) };
}

const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

// Connection names by adapter, so that a test can have the broker close one adapter's connections.
const rabbitmqNames = new WeakMap<BrokerAdapter, string>();
let rabbitmqAdapters = 0;

function rabbitmqAdapter(exchange: string): BrokerAdapter {
  const connectionName = `${exchange} outbox-test ${++rabbitmqAdapters}`;
  const adapter = createRabbitMQAdapter({ url: RABBITMQ_URL, exchange, connectionName });
  rabbitmqNames.set(adapter, connectionName);
  return adapter;
}

/**
 * RabbitMQ, on an exchange of this run's own. Every queue the adapter declares is named after the
 * exchange, so that cleanup finds them (listed with rabbitmqctl, deleted with amqplib).
 */
export function rabbitmqFixture(exchange = unique('tidings-outbox-')): BrokerFixture {
  return {
    name: 'rabbitmq',
    childName: `rabbitmq:${exchange}`,
    createAdapter: () => rabbitmqAdapter(exchange),
    require: () => requireBroker('RabbitMQ', '127.0.0.1:5672', rabbitmqAdapter(exchange)),
    async cleanup() {
      const list = async (what: string) =>
        (await run('rabbitmqctl', ['-q', what, '--no-table-headers', 'name'])).stdout
          .split('\n')
          .map((line) => line.trim())
          .filter(
            (name) => name === exchange || name.startsWith(`${exchange}/`) || name.startsWith(`${exchange}.`),
          );
      const [queues, exchanges] = await Promise.all([list('list_queues'), list('list_exchanges')]);
      const { connect } = await import('amqplib');
      const connection = await connect(RABBITMQ_URL);
      try {
        const channel = await connection.createChannel();
        for (const queue of queues) await channel.deleteQueue(queue);
        for (const name of exchanges) await channel.deleteExchange(name);
        await channel.close();
      } finally {
        await connection.close();
      }
    },
    async dropConnections(adapter) {
      const name = rabbitmqNames.get(adapter);
      const listing = (
        await run('rabbitmqctl', ['-q', 'list_connections', '--no-table-headers', 'pid', 'client_properties'])
      ).stdout;
      for (const line of listing.split('\n')) {
        const match = /^(<[^>]+>)\t.*\{"connection_name","([^"]*)"\}/.exec(line);
        if (match !== null && name !== undefined && match[2]!.startsWith(name)) {
          await run('rabbitmqctl', [
            '-q',
            'close_connection',
            match[1]!,
            'tidings outbox test: dropped on purpose',
          ]);
        }
      }
    },
  };
}

const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';

function natsAdapter(prefix: string): BrokerAdapter {
  return createNatsAdapter({
    servers: NATS_URL,
    prefix,
    stream: { name: prefix.toUpperCase(), maxAgeMs: 3_600_000 },
  });
}

/** NATS JetStream, on a subject prefix and stream of this run's own; cleanup deletes the stream. */
export function natsFixture(prefix = unique('tob')): BrokerFixture {
  return {
    name: 'nats-jetstream',
    childName: `nats:${prefix}`,
    createAdapter: () => natsAdapter(prefix),
    require: () => requireBroker('NATS (JetStream)', NATS_URL, natsAdapter(prefix)),
    async cleanup() {
      const { connect } = await import('nats');
      const connection = await connect({ servers: NATS_URL, maxReconnectAttempts: 0 });
      try {
        const manager = await connection.jetstreamManager();
        await manager.streams.delete(prefix.toUpperCase()).catch(() => undefined);
      } finally {
        await connection.close();
      }
    },
    async dropConnections(adapter) {
      // Drops the client's socket; nats.js reconnects as it would after a server restart.
      await (adapter as NatsAdapter).connection?.reconnect();
    },
  };
}

const REDIS_URL = process.env.TIDINGS_REDIS_URL ?? 'redis://127.0.0.1:6379';

function redisAdapter(namespace: string): BrokerAdapter {
  return createRedisStreamsAdapter({ connection: REDIS_URL, clientName: `${namespace}-outbox-test` });
}

/**
 * Redis Streams. The adapter names its streams and the keys beside them after the topics and
 * groups, which all start with this run's namespace, so that cleanup deletes `*<namespace>*`.
 */
export function redisStreamsFixture(namespace = unique('tob-redis-')): BrokerFixture {
  return {
    name: 'redis-streams',
    namespace,
    childName: `redis:${namespace}`,
    createAdapter: () => redisAdapter(namespace),
    require: () => requireBroker('Redis', REDIS_URL, redisAdapter(namespace)),
    async cleanup() {
      const { Redis } = await import('ioredis');
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `*${namespace}*`, 'COUNT', 1_000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        await redis.quit();
      }
    },
    async dropConnections(adapter) {
      const { Redis } = await import('ioredis');
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
      const prefix = `${(adapter as RedisStreamsAdapter).connectionName}:`;
      try {
        for (const line of String(await redis.client('LIST')).split('\n')) {
          const id = /\bid=(\d+)/.exec(line)?.[1];
          const name = /\bname=(\S*)/.exec(line)?.[1];
          if (id !== undefined && name?.startsWith(prefix)) await redis.client('KILL', 'ID', id);
        }
      } finally {
        await redis.quit();
      }
    },
  };
}

const KAFKA_BROKERS = [`127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`];
// The sockets of each adapter: Kafka has no request to drop a client, so a test cuts them.
const kafkaSockets = new WeakMap<BrokerAdapter, Set<net.Socket>>();
// The adapter's client, @platformatic/kafka, announces each connection it opens on a diagnostics
// channel with the `context` its clients were made with: the marker each adapter gets below.
const socketsByMarker = new Map<object, Set<net.Socket>>();
subscribe('tracing:plt:kafka:connections:connects:end', (message) => {
  const connection = (message as { connection?: { context?: unknown; socket?: net.Socket } }).connection;
  const sockets = socketsByMarker.get(connection?.context as object);
  const socket = connection?.socket;
  if (sockets === undefined || socket === undefined || sockets.has(socket)) return;
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
});

function kafkaAdapter(): BrokerAdapter {
  const sockets = new Set<net.Socket>();
  const marker = {};
  socketsByMarker.set(marker, sockets);
  const adapter = createKafkaAdapter({
    brokers: KAFKA_BROKERS,
    clientId: 'tidings-outbox-test',
    // A short session, so that a consumer that leaves is noticed quickly.
    consumer: {
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 500,
      rebalanceTimeoutMs: 20_000,
      maxWaitTimeMs: 100,
    },
    platformatic: { context: marker },
  });
  kafkaSockets.set(adapter, sockets);
  return adapter;
}

/**
 * Kafka (the broker of tools/kafka/kafka.sh). Topics and groups start with this run's namespace;
 * cleanup deletes them with the kafkajs admin client.
 */
export function kafkaFixture(namespace = unique('tob-kafka-')): BrokerFixture {
  return {
    name: 'kafka',
    namespace,
    childName: 'kafka:',
    createAdapter: kafkaAdapter,
    async require() {
      try {
        await requireBroker('Kafka', KAFKA_BROKERS[0]!, kafkaAdapter());
      } catch (error) {
        throw new Error(`${(error as Error).message} For Kafka: \`bash tools/kafka/kafka.sh start\`.`);
      }
    },
    async cleanup() {
      const { Kafka, logLevel } = await import('kafkajs');
      const admin = new Kafka({ brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(namespace));
        if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
        const groups = (await admin.listGroups()).groups
          .map((g) => g.groupId)
          .filter((g) => g.startsWith(namespace));
        if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
      } finally {
        await admin.disconnect();
      }
    },
    async dropConnections(adapter) {
      for (const socket of kafkaSockets.get(adapter) ?? []) {
        socket.destroy(Object.assign(new Error('connection reset by the test'), { code: 'ECONNRESET' }));
      }
    },
  };
}

/**
 * The broker a relay child process publishes to, from the name the parent passes:
 * `journal:<path>` (the file journal that stands in for the in-memory broker), or a fixture's
 * `childName`.
 */
export function brokerByName(name: string): BrokerAdapter {
  const [kind, argument = ''] = [name.slice(0, name.indexOf(':')), name.slice(name.indexOf(':') + 1)];
  switch (kind) {
    case 'journal':
      return createJournalAdapter(argument);
    case 'rabbitmq':
      return rabbitmqAdapter(argument);
    case 'nats':
      return natsAdapter(argument);
    case 'redis':
      return redisAdapter(argument);
    case 'kafka':
      return kafkaAdapter();
    default:
      throw new Error(`no broker named ${name}`);
  }
}
