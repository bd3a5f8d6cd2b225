import type { AdapterSubscription, ConsumerLagReporter } from '@tidings/core/adapter';
import { ACK, Collector, deferred } from '../collector';
import { publishInBatches, records } from '../fixture';
import type { Scenario } from '../scenario';

function reportsLag(
  subscription: AdapterSubscription,
): subscription is AdapterSubscription & ConsumerLagReporter {
  return typeof (subscription as Partial<ConsumerLagReporter>).lag === 'function';
}

/**
 * Asks for the lag until `topic`'s is `expected`. Lag is read from the broker, which counts on its
 * own schedule; there is no event to wait on, so this polls, every 100 ms, up to `timeoutMs`.
 */
async function lagReaches(
  subscription: ConsumerLagReporter,
  topic: string,
  expected: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: number | undefined;
  for (;;) {
    const report = await subscription.lag();
    last = report.filter((lag) => lag.topic === topic).reduce((sum, lag) => sum + lag.messages, 0);
    if (last === expected) return;
    if (performance.now() > deadline) {
      throw new Error(`the reported lag of ${topic} stayed at ${last}, expected ${expected}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const consumerLag: Scenario = {
  name: 'consumer-lag',
  title: 'reports as lag every record its group has not settled, in handlers or not, and zero after',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('lag');
    const collector = new Collector();
    const release = deferred();
    const subscription = await adapter.subscribe(
      fx.spec({ group: fx.group('lag'), topics: [topic], concurrency: 2 }),
      collector.handler('lag', async () => {
        await release.promise;
        return ACK;
      }),
    );
    if (!reportsLag(subscription)) {
      release.resolve();
      return "the adapter's subscriptions do not report their lag (ConsumerLagReporter)";
    }
    const count = 20;
    await publishInBatches(adapter, records(topic, 'lag', count));
    // Two records sit in handlers, the others wait: none is settled, so all of them count.
    await collector.untilDistinct(2, settings.deliveryTimeoutMs);
    await lagReaches(subscription, topic, count, settings.deliveryTimeoutMs);
    release.resolve();
    await collector.untilDistinct(count, settings.deliveryTimeoutMs);
    await lagReaches(subscription, topic, 0, settings.deliveryTimeoutMs);
    return undefined;
  },
};
