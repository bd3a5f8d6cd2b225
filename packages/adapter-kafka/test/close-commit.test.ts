import { Collector, LogCapture } from '@tidings/conformance';
import type { AdapterSubscription, BrokerAdapter } from '@tidings/core/adapter';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaAdapter, type KafkaAdapterOptions } from '../src';
import { TEST_CLIENT, tapSockets } from './clients';
import { loggingTo, subscribeSpec, TEST_CONSUMER, testNamespace, testRecords } from './helpers';
import { PrivateKafka } from './private-broker';

const namespace = testNamespace('cc');

// A node of the file's own, so that what the test does to its traffic touches no other test's group.
let node: PrivateKafka;

beforeAll(async () => {
  node = await PrivateKafka.start();
  // The test's adapter does not retry; the group coordinator of a new node takes a few tries to
  // come up (the offsets topic is created on the first request), so a group joins once first.
  const warm = createKafkaAdapter({ brokers: node.brokers, client: TEST_CLIENT, consumer: TEST_CONSUMER });
  await warm.connect();
  const subscription = await warm.subscribe(
    subscribeSpec(`${namespace}-g-warm`, `${namespace}-warm`),
    async () => ({
      type: 'ack',
    }),
  );
  await subscription.close();
  await warm.close();
}, 120_000);

afterAll(async () => {
  await node?.dispose();
});

const open: BrokerAdapter[] = [];

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((a) => a.close({ signal: AbortSignal.timeout(10_000) })));
});

async function adapterFor(
  logs: LogCapture,
  overrides: Partial<KafkaAdapterOptions> = {},
): Promise<BrokerAdapter> {
  const adapter = createKafkaAdapter({
    brokers: node.brokers,
    clientId: 'tidings-close-commit',
    client: TEST_CLIENT,
    connectionTimeoutMs: 1_000,
    logger: loggingTo(logs),
    logLevel: 'info',
    ...overrides,
    // No interval commit before the close: what the next member gets hangs on the close's commit.
    consumer: { ...TEST_CONSUMER, commitIntervalMs: 600_000, ...overrides.consumer },
  });
  open.push(adapter);
  await adapter.connect();
  return adapter;
}

/** Kafka's OffsetCommit request: its API key, after the request's size. */
const OFFSET_COMMIT = 8;

/**
 * Adapter options whose sockets, while `lose()` says so, are reset when an OffsetCommit request is
 * written to them, before it is sent: the broker never sees it and the commit fails with a
 * connection error, as when the coordinator's connection drops while it moves. Both clients write
 * each request in one `write`, its size first, then its API key.
 */
function losingCommits(lose: () => boolean) {
  return tapSockets((socket) => {
    const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (lose() && Buffer.isBuffer(chunk) && chunk.length >= 6 && chunk.readInt16BE(4) === OFFSET_COMMIT) {
        socket.destroy(Object.assign(new Error('connection reset by the test'), { code: 'ECONNRESET' }));
        return false;
      }
      return write(chunk, ...rest);
    }) as typeof socket.write;
  }).options;
}

describe('kafka close', () => {
  it('commits what was settled even when its first commit fails', async () => {
    const topic = `${namespace}-resume`;
    const group = `${namespace}-g-resume`;
    const count = 20;
    const logs = new LogCapture();
    let losing = false;
    const first = await adapterFor(
      logs,
      losingCommits(() => losing),
    );
    const handled = new Collector();
    const subscription: AdapterSubscription = await first.subscribe(
      subscribeSpec(group, topic),
      handled.handler('first'),
    );
    await first.publish(testRecords(topic, 'settled', count));
    await handled.untilDistinct(count, 20_000);

    // A node only frozen (SIGSTOP) does not fail the commit for good: the request waits in its
    // socket and is applied when the node wakes. A node stopped makes kafkajs crash the consumer,
    // whose restart joins as a new member (see the report). A lost request fails it cleanly.
    losing = true;
    const closed = subscription.close({ signal: AbortSignal.timeout(30_000) });
    // Before the fix too, the failed commit is logged: "committing offsets failed".
    await logs.until(/committing (offsets|the settled positions) failed/, 20_000);
    losing = false;
    await closed;
    expect(subscription.state).toBe('closed');
    expect(logs.matching(/gave up committing/)).toEqual([]);

    // None of the settled records comes back: the next record the group gets is a new one.
    const next = await adapterFor(new LogCapture());
    const redelivered = new Collector();
    await next.subscribe(subscribeSpec(group, topic), redelivered.handler('next'));
    await next.publish(testRecords(topic, 'after', 1));
    await redelivered.until(
      () => redelivered.ofBody('after-0').length > 0,
      30_000,
      () => `the next member did not get the record published after the close`,
    );
    expect([...redelivered.distinctBodies()]).toEqual(['after-0']);
  }, 90_000);
});
