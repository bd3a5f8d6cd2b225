import { Collector, eventually, LogCapture } from '@tidings/conformance';
import { createBus, defineEvent } from '@tidings/core';
import type {
  AdapterSubscription,
  BrokerAdapter,
  ConnectionState,
  ConnectionStateReporter,
  OutgoingRecord,
  Settlement,
} from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { workQueueName } from '../src/index';
import { dropConnections } from './support/broker';
import { useBroker } from './support/fixture';

const broker = useBroker('recovery');
const { exchange } = broker;

/** What an application does with a publish that failed while the broker was away: try again. */
async function publishUntilConfirmed(
  publisher: BrokerAdapter,
  batch: readonly OutgoingRecord[],
): Promise<number> {
  let failures = 0;
  for (;;) {
    try {
      await publisher.publish(batch);
      return failures;
    } catch (error) {
      expect((error as { code?: string }).code, String(error)).toBe('PUBLISH');
      failures++;
      if (failures > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe('when RabbitMQ closes every connection', () => {
  it('recovers while publishing and consuming, and loses nothing', async () => {
    const topic = 'recovery.all';
    const publisher = await broker.adapter('publisher');
    const consumer = await broker.adapter('consumer');
    const collector = new Collector();
    // Every 50th record fails once and comes back through a delay level, across the outages.
    const retryOnce = (attempt: number, text: string): Settlement =>
      Number(text.split('-')[1]) % 50 === 0 && attempt === 1
        ? { type: 'retry', delayMs: 200, headers: { 'tidings-attempt': String(attempt + 1) } }
        : { type: 'ack' };
    const subscriptions: AdapterSubscription[] = [];
    for (const member of ['a', 'b']) {
      subscriptions.push(
        await consumer.subscribe(
          broker.spec('workers', [topic], 16),
          collector.handler(member, async (record) => {
            await new Promise((resolve) => setImmediate(resolve));
            return retryOnce(record.attempt, Buffer.from(record.body).toString());
          }),
        ),
      );
    }

    // Two drops, each once the consumers are busy; publishing goes on throughout.
    let dropping = true;
    const drops = (async () => {
      for (let round = 0; round < 2; round++) {
        await collector.untilDistinct(collector.distinctBodies().size + 500, 30_000);
        // The publisher's connection, and the consumer's two (it publishes its retries on one).
        expect(await dropConnections(`${exchange} `)).toBe(3);
      }
    })().finally(() => {
      dropping = false;
    });

    const batch = 10;
    let total = 0;
    let publishFailures = 0;
    while (dropping || total < 3_000) {
      const records = Array.from({ length: batch }, (_, j) => ({
        topic,
        key: `k${(total + j) % 10}`,
        headers: { 'x-seq': String(total + j) },
        body: Buffer.from(`record-${total + j}`),
      }));
      publishFailures += await publishUntilConfirmed(publisher, records);
      total += batch;
      // Paced, so that the drops land in the middle of the traffic rather than after it.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await drops;

    await collector.untilDistinct(total, 60_000);
    // The records that failed once came back after their delay, through the outages.
    const failedOnce = Array.from({ length: Math.ceil(total / 50) }, (_, i) => `record-${i * 50}`);
    const secondAttempts = (): number =>
      failedOnce.filter((body) => collector.ofBody(body).some((d) => d.record.attempt >= 2)).length;
    await collector.until(
      () => secondAttempts() === failedOnce.length,
      30_000,
      () => `${secondAttempts()} of ${failedOnce.length} retried records came back`,
    );
    await eventually(
      () =>
        publisher.state === 'connected' &&
        consumer.state === 'connected' &&
        subscriptions.every((s) => s.state === 'running'),
      30_000,
      () => `states: ${publisher.state}, ${consumer.state}, ${subscriptions.map((s) => s.state)}`,
    );
    console.info(
      `[rabbitmq] recovery: ${total} records, ${collector.deliveries.length} deliveries (${collector.deliveries.length - total - failedOnce.length} redelivered after the drops), ${publishFailures} publish calls retried`,
    );
  }, 120_000);

  it('reports the lost connection on the subscription meanwhile, then runs again', async () => {
    // A slow first reconnection keeps the 'reconnecting' state long enough to be seen.
    const consumer = await broker.adapter('observed', { reconnect: { initialDelayMs: 1_000 } });
    const collector = new Collector();
    const subscription = await consumer.subscribe(
      broker.spec('observed', ['recovery.observed'], 4),
      collector.handler('only'),
    );
    expect(subscription.state).toBe('running');
    await dropConnections(`${exchange} observed `);
    await eventually(
      () => subscription.state === 'reconnecting',
      10_000,
      () => `state stayed ${subscription.state}`,
    );
    expect(subscription.lastError).toMatchObject({ code: 'CONNECTION' });
    await eventually(
      () => subscription.state === 'running' && consumer.state === 'connected',
      30_000,
      () => `subscription ${subscription.state}, adapter ${consumer.state}`,
    );
    await consumer.publish([
      { topic: 'recovery.observed', key: undefined, headers: {}, body: Buffer.from('after') },
    ]);
    await collector.untilDistinct(1, 10_000);
  });

  it('tells the bus when the connection is lost and when it is back, which logs it once each', async () => {
    const adapter = await broker.adapter('logged', { reconnect: { initialDelayMs: 300 } });
    const states: ConnectionState[] = [];
    (adapter as BrokerAdapter & ConnectionStateReporter).onStateChange((state) => states.push(state));
    const logs = new LogCapture();
    const Ping = defineEvent({ type: 'recovery.logged', schema: z.object({ n: z.number() }) });
    const bus = createBus({ source: 'recovery-test', adapter, logger: logs });
    const handled: number[] = [];
    bus.subscribe(Ping, { group: 'logged' }, (event) => {
      handled.push(event.data.n);
    });
    await bus.start();
    // The publish and the consume connections both go (one after the other: two outages, or one).
    expect(await dropConnections(`${exchange} logged `)).toBe(2);
    const [lost] = await logs.until(/^rabbitmq connection lost; reconnecting$/, 10_000);
    expect(lost!.level).toBe('warn');
    expect(lost!.fields.err).toMatchObject({ code: 'CONNECTION' });
    expect(String((lost!.fields.err as Error).message)).toMatch(
      /lost the RabbitMQ (publish|consume) connection/,
    );
    await eventually(
      () => adapter.state === 'connected',
      30_000,
      () => `adapter ${adapter.state}`,
    );
    const [restored] = await logs.until(/^rabbitmq connection restored$/, 1_000);
    expect(restored!.level).toBe('info');
    // Each outage is logged once when it starts and once when it ends, whatever the reconnect attempts.
    const connectionLines = logs.matching(/connection (lost|restored)/).map((line) => line.message);
    expect(connectionLines.length).toBeGreaterThanOrEqual(2);
    expect(connectionLines.length % 2).toBe(0);
    expect(connectionLines.at(-1)).toBe('rabbitmq connection restored');
    expect(states.at(-1)).toBe('connected');
    await eventually(
      () => bus.health().subscriptions.every((s) => s.state === 'running'),
      30_000,
      () => JSON.stringify(bus.health()),
    );
    await bus.publish(Ping, { n: 1 });
    await eventually(
      () => handled.includes(1),
      10_000,
      () => 'the event published after the outage was not handled',
    );
    await bus.stop();
    expect(states.at(-1)).toBe('closed');
  });

  it('declares its queue again when someone deletes it under a live subscription', async () => {
    const consumer = await broker.adapter('deleted');
    const collector = new Collector();
    const subscription = await consumer.subscribe(
      broker.spec('deleted', ['recovery.deleted'], 4),
      collector.handler('only'),
    );
    const channel = await broker.raw().createChannel();
    await channel.deleteQueue(workQueueName(exchange, 'deleted', 'recovery.deleted'));
    await channel.close();
    // RabbitMQ cancels the consumer; the subscription opens a new channel and declares the queue.
    await eventually(
      () => subscription.lastError?.message.includes('cancelled the consumer') === true,
      10_000,
      () => `lastError: ${String(subscription.lastError)}`,
    );
    await eventually(
      () => subscription.state === 'running',
      10_000,
      () => `state ${subscription.state}`,
    );
    await consumer.publish([
      { topic: 'recovery.deleted', key: undefined, headers: {}, body: Buffer.from('again') },
    ]);
    await collector.untilDistinct(1, 10_000);
  });

  it('closes promptly while the broker is away', async () => {
    const consumer = await broker.adapter('closing');
    await consumer.subscribe(broker.spec('closing', ['recovery.closing'], 4), async () => ({ type: 'ack' }));
    await dropConnections(`${exchange} closing `);
    await consumer.close({ signal: AbortSignal.timeout(5_000) });
    expect(consumer.state).toBe('closed');
  });
});
