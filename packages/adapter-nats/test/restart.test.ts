import type { OutgoingRecord, Settlement, SubscribeSpec } from '@tidings/core/adapter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatsAdapter, type NatsAdapter } from '../src/index';
import { PrivateNatsServer } from './support/private-server';
import { pause, Waiter } from './support/waiter';

const ACK: Settlement = { type: 'ack' };
const TOTAL = 3_000;

describe('JetStream adapter with a server that stops and starts again', () => {
  let server: PrivateNatsServer;
  const adapters: NatsAdapter[] = [];

  beforeAll(async () => {
    server = await PrivateNatsServer.start();
  });

  afterAll(async () => {
    await Promise.allSettled(
      adapters.map((adapter) => adapter.close({ signal: AbortSignal.timeout(2_000) })),
    );
    await server?.dispose();
  });

  function adapter(): NatsAdapter {
    const created = createNatsAdapter({
      servers: server.url,
      prefix: 'restart',
      publishTimeoutMs: 2_000,
      // A short ack_wait: acks sent while the server was down are lost, and those records come
      // back after it.
      ackWaitMs: 2_000,
      connectionOptions: { reconnectTimeWait: 100 },
    });
    adapters.push(created);
    return created;
  }

  it('loses no acknowledged record when the server stops or crashes while publishing and while consuming', async () => {
    const producer = adapter();
    const consumer = adapter();
    await producer.connect();
    await consumer.connect();
    const progress = new Waiter();
    const consumed = new Map<string, number>();
    const spec: SubscribeSpec = {
      group: 'restart',
      topics: ['orders'],
      concurrency: 4,
      prefetch: 4,
      ordering: 'none',
      startFrom: 'earliest',
      maxAttempts: 5,
      handlerTimeoutMs: 5_000,
    };
    const subscription = await consumer.subscribe(spec, async (record) => {
      // Slower than the producer, so that a backlog is being consumed when the server stops.
      await pause(2);
      const body = Buffer.from(record.body).toString();
      consumed.set(body, (consumed.get(body) ?? 0) + 1);
      progress.notify();
      return ACK;
    });

    const acknowledged = new Set<string>();
    let failedPublishes = 0;
    const record = (i: number): OutgoingRecord => ({
      topic: 'orders',
      key: `k${i % 10}`,
      // The envelope id: a publish retried after a lost ack is dropped by the duplicate window.
      headers: { 'ce-id': `event-${i}` },
      body: Buffer.from(`order-${i}`),
    });
    const publish = async (i: number): Promise<void> => {
      for (;;) {
        try {
          await producer.publish([record(i)]);
          acknowledged.add(`order-${i}`);
          progress.notify();
          return;
        } catch (error) {
          expect(['CONNECTION', 'PUBLISH']).toContain((error as { code?: string }).code);
          failedPublishes++;
          progress.notify();
          await pause(50);
        }
      }
    };
    // Stops the server, and starts it again once a publish has felt the outage. SIGTERM is a clean
    // shutdown; SIGKILL a crash of the server process.
    const outage = async (signal: NodeJS.Signals, felt: () => boolean): Promise<void> => {
      await server.stop(signal);
      await progress.until(felt, 30_000, () => 'nobody noticed the server was down');
      await server.resume();
    };

    const restarts: Promise<void>[] = [];
    for (let i = 0; i < TOTAL; i += 10) {
      if (i === 900 || i === 2_100) {
        const failuresBefore = failedPublishes;
        restarts.push(outage(i === 900 ? 'SIGTERM' : 'SIGKILL', () => failedPublishes > failuresBefore));
      }
      await Promise.all(Array.from({ length: 10 }, (_, j) => publish(i + j)));
    }
    await Promise.all(restarts);
    expect(failedPublishes, 'no publish felt the outages').toBeGreaterThan(0);

    // A third outage, a crash, while the consumer still works through the backlog.
    expect(consumed.size, 'the consumer had already caught up').toBeLessThan(acknowledged.size);
    await server.stop('SIGKILL');
    await pause(500);
    await server.resume();

    await progress.until(
      () => [...acknowledged].every((body) => consumed.has(body)),
      60_000,
      () =>
        `${[...acknowledged].filter((body) => !consumed.has(body)).length} acknowledged records never consumed`,
    );
    expect(acknowledged.size).toBe(TOTAL);
    const duplicates = [...consumed.values()].filter((times) => times > 1).length;
    console.info(
      `[restart] ${acknowledged.size} acknowledged, ${consumed.size} consumed, ${duplicates} consumed more than once, ${failedPublishes} publishes retried`,
    );
    expect(subscription.state).toBe('running');
    expect(consumer.state).toBe('connected');
  }, 180_000);
});
