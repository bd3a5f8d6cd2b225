// The setups the end-to-end test runs the app on: the in-memory broker, and each real broker on
// this machine. A setup whose service is not running fails its tests with the command that starts
// it; it never skips.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BrokerConfig, BrokerKind } from '../../src/config';

/** A name no other run on the shared servers uses. */
export function uniqueName(label: string): string {
  return `${label}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** How to reach one broker from a test, check it is there, and remove what a run left on it. */
export interface BrokerEnvironment {
  readonly kind: BrokerKind;
  /** The broker settings of one isolated run. */
  config(namespace: string): BrokerConfig;
  /** Rejects with how to start the broker when it does not answer. */
  check(): Promise<void>;
  /** Deletes what runs in these namespaces created (several at once: one listing of the broker). */
  cleanup(...namespaces: string[]): Promise<void>;
}

const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`;
const KAFKA_SCRIPT = fileURLToPath(new URL('../../../../tools/kafka/kafka.sh', import.meta.url));
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const run = promisify(execFile);

// The adapter names every queue and exchange it declares after its exchange; rabbitmqctl lists
// them (the tests run on the broker's machine, as the adapter's own tests do).
async function rabbitmqNames(kind: 'queues' | 'exchanges', namespaces: readonly string[]): Promise<string[]> {
  const { stdout } = await run('rabbitmqctl', ['-q', `list_${kind}`, '--no-table-headers', 'name'], {
    timeout: 30_000,
  });
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((name) =>
      namespaces.some(
        (namespace) =>
          name === namespace || name.startsWith(`${namespace}/`) || name.startsWith(`${namespace}.`),
      ),
    );
}

export const brokerEnvironments: Readonly<Record<BrokerKind, BrokerEnvironment>> = {
  memory: {
    kind: 'memory',
    config: () => ({ kind: 'memory' }),
    check: async () => undefined,
    cleanup: async () => undefined,
  },
  nats: {
    kind: 'nats',
    config: (namespace) => ({ kind: 'nats', url: NATS_URL, namespace }),
    async check() {
      const { connect } = await import('nats');
      try {
        const nc = await connect({ servers: NATS_URL, timeout: 3_000, maxReconnectAttempts: 0 });
        try {
          await nc.jetstreamManager({ timeout: 3_000 });
        } finally {
          await nc.close();
        }
      } catch (error) {
        throw new Error(
          `NATS with JetStream is not answering on ${NATS_URL} (${(error as Error).message}). ` +
            'Start it with `bash tools/services.sh`, or set NATS_URL.',
        );
      }
    },
    async cleanup(...namespaces) {
      const { connect } = await import('nats');
      const nc = await connect({ servers: NATS_URL, maxReconnectAttempts: 0 });
      try {
        const jsm = await nc.jetstreamManager();
        // The adapter names its stream after the prefix, upper-cased.
        for (const namespace of namespaces) {
          await jsm.streams
            .delete(namespace.toUpperCase().replace(/[^A-Z0-9_-]/g, '_'))
            .catch(() => undefined);
        }
      } finally {
        await nc.close();
      }
    },
  },
  rabbitmq: {
    kind: 'rabbitmq',
    config: (namespace) => ({ kind: 'rabbitmq', url: RABBITMQ_URL, namespace }),
    async check() {
      const { connect } = await import('amqplib');
      try {
        const connection = await connect(RABBITMQ_URL, { timeout: 5_000 });
        await connection.close();
      } catch (error) {
        throw new Error(
          `RabbitMQ is not answering on ${RABBITMQ_URL.replace(/:[^:@/]*@/, ':***@')} (${(error as Error).message}). ` +
            'Start it with `bash tools/services.sh`, or set RABBITMQ_URL.',
        );
      }
    },
    async cleanup(...namespaces) {
      const [queues, exchanges] = await Promise.all([
        rabbitmqNames('queues', namespaces),
        rabbitmqNames('exchanges', namespaces),
      ]);
      const { connect } = await import('amqplib');
      const connection = await connect(RABBITMQ_URL);
      try {
        const channel = await connection.createChannel();
        for (const queue of queues) await channel.deleteQueue(queue);
        for (const exchange of exchanges) await channel.deleteExchange(exchange);
        await channel.close();
      } finally {
        await connection.close();
      }
    },
  },
  redis: {
    kind: 'redis',
    // Topics are stream keys, named with the run's topic prefix, which holds the namespace.
    config: () => ({ kind: 'redis', url: REDIS_URL }),
    async check() {
      const { Redis } = await import('ioredis');
      const redis = new Redis(REDIS_URL, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        connectTimeout: 3_000,
      });
      try {
        await redis.connect();
        await redis.ping();
      } catch (error) {
        throw new Error(
          `Redis is not answering on ${REDIS_URL} (${(error as Error).message}). ` +
            'Start it with `bash tools/services.sh`, or set REDIS_URL.',
        );
      } finally {
        redis.disconnect();
      }
    },
    async cleanup(...namespaces) {
      // The streams start with the namespace, and the adapter's keys beside them contain it.
      const { Redis } = await import('ioredis');
      const redis = new Redis(REDIS_URL, { lazyConnect: true });
      await redis.connect();
      try {
        for (const namespace of namespaces) {
          let cursor = '0';
          do {
            const [next, keys] = await redis.scan(cursor, 'MATCH', `*${namespace}*`, 'COUNT', 1_000);
            cursor = next;
            if (keys.length > 0) await redis.del(...keys);
          } while (cursor !== '0');
        }
      } finally {
        await redis.quit();
      }
    },
  },
  kafka: {
    kind: 'kafka',
    // Topics carry the run's topic prefix and consumer groups its group prefix, both the namespace.
    config: () => ({ kind: 'kafka', url: KAFKA_BROKERS }),
    async check() {
      // As the Kafka adapter's own tests do: start the repository's local broker if it is not
      // running (the script reuses one that is), so that `npm test` works on a fresh machine.
      if (process.env.KAFKA_BROKERS === undefined) {
        try {
          await run('bash', [KAFKA_SCRIPT, 'start'], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
        } catch (error) {
          throw new Error(
            `Kafka is not running on ${KAFKA_BROKERS} and could not be started (${(error as Error).message.split('\n')[0]}). ` +
              'Start it with `bash tools/kafka/kafka.sh start` (Java 11+ and Maven; see tools/kafka/README.md).',
          );
        }
      }
      const admin = await kafkaAdmin();
      await admin.disconnect();
    },
    async cleanup(...namespaces) {
      const admin = await kafkaAdmin();
      const ours = (name: string): boolean => namespaces.some((namespace) => name.startsWith(namespace));
      try {
        const topics = (await admin.listTopics()).filter(ours);
        if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
        const { groups } = await admin.listGroups();
        const ourGroups = groups.map((group) => group.groupId).filter(ours);
        if (ourGroups.length > 0) await admin.deleteGroups(ourGroups).catch(() => undefined);
      } finally {
        await admin.disconnect();
      }
    },
  },
};

async function kafkaAdmin() {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({
    clientId: 'order-system-tests',
    brokers: KAFKA_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000,
  }).admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `Kafka is not answering on ${KAFKA_BROKERS} (${(error as Error).message}). ` +
        'Start it with `bash tools/kafka/kafka.sh start`, or set KAFKA_BROKERS.',
    );
  }
  return admin;
}

/** PostgreSQL for the end-to-end tests: the machine's, database `test`, a schema per run. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Rejects with how to start PostgreSQL when it does not answer. */
export async function checkPostgres(): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    throw new Error(
      `PostgreSQL is not answering on ${DATABASE_URL} (${(error as Error).message}). ` +
        'Start it with `bash tools/services.sh`, or set DATABASE_URL.',
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops a run's schema with everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
