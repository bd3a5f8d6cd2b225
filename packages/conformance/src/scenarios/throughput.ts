import { expect } from 'vitest';
import { Collector } from '../collector';
import { publishInBatches, records } from '../fixture';
import type { Scenario } from '../scenario';

/** Throughput figures of one run of the smoke scenario. */
export interface ThroughputReport {
  readonly adapter: string;
  readonly messages: number;
  readonly messageBytes: number;
  readonly publishPerSecond: number;
  readonly consumePerSecond: number;
}

export const throughputSmoke: Scenario = {
  name: 'throughput-smoke',
  title: 'reports publish and consume rates for 1 KiB records (printed, not asserted)',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('throughput');
    const count = Math.max(1_000, settings.messages);
    const payload = 'x'.repeat(1024 - 12);
    const sent = records(topic, 'tp', count, { key: (i) => `k${i % 32}` }).map((record, i) => ({
      ...record,
      body: Buffer.from(`${String(i).padStart(10, '0')}|${payload}`.slice(0, 1024)),
    }));
    const collector = new Collector();
    const consumeStart = () => performance.now();
    let consumeStartedAt = 0;

    // With replay, publish first and time the consumption alone; otherwise time them together.
    if (!fx.capabilities.replay) {
      consumeStartedAt = consumeStart();
      await adapter.subscribe(
        fx.spec({ group: fx.group('tp'), topics: [topic], concurrency: 64 }),
        collector.handler('tp'),
      );
    }
    const publishStartedAt = performance.now();
    await publishInBatches(adapter, sent, 100);
    const publishSeconds = (performance.now() - publishStartedAt) / 1000;
    if (fx.capabilities.replay) {
      consumeStartedAt = consumeStart();
      await adapter.subscribe(
        fx.spec({ group: fx.group('tp'), topics: [topic], concurrency: 64, startFrom: 'earliest' }),
        collector.handler('tp'),
      );
    }
    await collector.until(
      () => collector.deliveries.length >= count,
      settings.deliveryTimeoutMs * 2,
      () => `${collector.deliveries.length} of ${count} consumed`,
    );
    const consumeSeconds = (performance.now() - consumeStartedAt) / 1000;
    const report: ThroughputReport = {
      adapter: adapter.name,
      messages: count,
      messageBytes: 1024,
      publishPerSecond: Math.round(count / publishSeconds),
      consumePerSecond: Math.round(count / consumeSeconds),
    };
    console.info(
      `[conformance] ${report.adapter}: publish ${report.publishPerSecond} msg/s, consume ${report.consumePerSecond} msg/s (${count} x 1 KiB)`,
    );
    expect(collector.distinctBodies().size).toBe(count);
  },
};
