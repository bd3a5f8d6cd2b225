// A topic with two consumer groups on a real broker (Redis unless told): `failed` dead-letters every order while
// `broken` is set, `other` handles them all. What the CLI tests operate on.
import { createKafkaAdapter } from '@tidings/adapter-kafka';
import { createNatsAdapter } from '@tidings/adapter-nats';
import { createRabbitMQAdapter } from '@tidings/adapter-rabbitmq';
import { createRedisStreamsAdapter } from '@tidings/adapter-redis-streams';
import {
  type BrokerAdapter,
  type Bus,
  createBus,
  createOperator,
  defineEvent,
  NonRetryableError,
  type Operator,
} from '@tidings/core';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { REDIS_URL } from './process';

/** A broker the CLI is tested on: the URL the CLI takes, and the same adapter for the test's side. */
export interface BrokerUnderTest {
  readonly name: string;
  readonly url: string;
  adapter(): BrokerAdapter;
  /** Removes what the scene left on the broker beyond its groups. */
  cleanup(topic: string): Promise<void>;
}

async function deleteRedisKeys(pattern: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    if (found.length > 0) await redis.del(...found);
  } finally {
    await redis.quit();
  }
}

const KAFKA = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export const BROKERS: Readonly<Record<'redis' | 'kafka' | 'rabbitmq' | 'nats', BrokerUnderTest>> = {
  redis: {
    name: 'Redis Streams',
    url: REDIS_URL,
    adapter: () => createRedisStreamsAdapter({ connection: REDIS_URL }),
    cleanup: (topic) => deleteRedisKeys(`*${topic}*`),
  },
  kafka: {
    name: 'Kafka',
    url: `kafka://${KAFKA}`,
    adapter: () => createKafkaAdapter({ brokers: KAFKA.split(',') }),
    cleanup: async () => undefined,
  },
  rabbitmq: {
    name: 'RabbitMQ',
    url: RABBITMQ_URL,
    adapter: () => createRabbitMQAdapter({ url: RABBITMQ_URL }),
    cleanup: async () => undefined,
  },
  nats: {
    name: 'NATS JetStream',
    url: NATS_URL,
    adapter: () => createNatsAdapter({ servers: NATS_URL }),
    cleanup: async () => undefined,
  },
};

export interface Scene {
  readonly topic: string;
  readonly failed: string;
  readonly other: string;
  readonly bus: Bus;
  readonly operator: Operator;
  /** Set to false to let the failed group handle its orders (the bug is fixed). */
  readonly broken: { value: boolean };
  /** Order ids the failed group handled, in order, duplicates included. */
  readonly handled: string[];
  /** Order ids the other group handled. */
  readonly otherHandled: string[];
  /** What the CLI needs in its environment to see the scene's topic (and, off Redis, its broker). */
  readonly env: Record<string, string>;
  publish(count: number, prefix?: string): Promise<void>;
  /** Resolves once `count` dead letters are stored. */
  deadLetters(count: number): Promise<void>;
  close(): Promise<void>;
}

export function uniqueName(label: string): string {
  return `cli-test-${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Polls `check` every 50 ms until it holds; the broker is read, there is no event to wait on. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function createScene(label: string, broker: BrokerUnderTest = BROKERS.redis): Promise<Scene> {
  const topic = uniqueName(label);
  const failed = `${topic}-billing`;
  const other = `${topic}-audit`;
  // The same type as the CLI config's contract (fixtures/contracts.ts), on this scene's topic.
  const OrderPlaced = defineEvent({
    type: 'cli-test.order.placed',
    version: 1,
    topic,
    schema: z.object({ orderId: z.string(), total: z.number().positive() }),
    key: (data) => data.orderId,
  });
  const adapter = broker.adapter();
  const bus = createBus({ source: 'cli-test', adapter });
  const broken = { value: true };
  const handled: string[] = [];
  const otherHandled: string[] = [];
  bus.subscribe(OrderPlaced, { group: failed, retry: { maxAttempts: 1 }, concurrency: 32 }, (event) => {
    if (broken.value) throw new NonRetryableError('payment service unavailable');
    handled.push(event.data.orderId);
  });
  bus.subscribe(OrderPlaced, { group: other, concurrency: 32 }, (event) => {
    otherHandled.push(event.data.orderId);
  });
  await bus.start();
  const operator = createOperator({ adapter, events: [OrderPlaced] });
  const stored = async () => {
    let n = 0;
    for await (const _ of operator.browse({ topic, group: failed }, { pageSize: 500 })) n++;
    return n;
  };
  return {
    topic,
    failed,
    other,
    bus,
    operator,
    broken,
    handled,
    otherHandled,
    env: { CLI_TEST_TOPIC: topic, ...(broker === BROKERS.redis ? {} : { TIDINGS_BROKER: broker.url }) },
    async publish(count, prefix = 'o') {
      for (let i = 0; i < count; i += 100) {
        await bus.publishBatch(
          Array.from({ length: Math.min(100, count - i) }, (_, j) => ({
            contract: OrderPlaced,
            data: { orderId: `${prefix}-${i + j}`, total: 10 + ((i + j) % 7) },
          })),
        );
      }
    },
    async deadLetters(count) {
      await eventually(async () => (await stored()) >= count, `${count} dead letters`);
      await eventually(() => otherHandled.length >= count, `${count} orders handled by the other group`);
    },
    async close() {
      await bus.stop();
      // The groups go through the operator, as an operator retires them; then what is left.
      const adminAdapter = broker.adapter();
      const admin = createOperator({ adapter: adminAdapter });
      try {
        for (const group of [failed, other]) await admin.deleteGroup(topic, group).catch(() => false);
      } finally {
        await adminAdapter.close();
      }
      await broker.cleanup(topic);
    },
  };
}
