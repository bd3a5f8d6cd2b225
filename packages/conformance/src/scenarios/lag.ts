import type {
  AdapterSubscription,
  BrokerAdapter,
  ConsumerLagReporter,
  GroupAdmin,
  GroupDescription,
} from '@tidings/core/adapter';
import { expect } from 'vitest';
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

function administersGroups(adapter: BrokerAdapter): adapter is BrokerAdapter & GroupAdmin {
  const admin = adapter as Partial<GroupAdmin>;
  return typeof admin.describeGroups === 'function' && typeof admin.deleteGroup === 'function';
}

/**
 * Asks another adapter (another process, as `tidings groups` is) for the groups of `topic` until
 * `check` holds. The broker counts on its own schedule, so this polls every 100 ms.
 */
async function groupsReach(
  admin: GroupAdmin,
  topic: string,
  check: (groups: readonly GroupDescription[]) => boolean,
  timeoutMs: number,
): Promise<readonly GroupDescription[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const groups = await admin.describeGroups([topic]);
    if (check(groups)) return groups;
    if (performance.now() > deadline) {
      throw new Error(`the groups of ${topic} stayed at ${JSON.stringify(groups)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const groupAdmin: Scenario = {
  name: 'group-admin',
  title: 'lists the groups of a topic with their lag and state from another adapter, and deletes one',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const admin = await fx.adapter();
    if (!administersGroups(admin)) return 'the adapter does not list or delete groups (GroupAdmin)';
    const topic = fx.topic('groups');
    const live = fx.group('groups-live');
    const left = fx.group('groups-left');
    const liveSeen = new Collector();
    const leftSeen = new Collector();
    await adapter.subscribe(fx.spec({ group: live, topics: [topic] }), liveSeen.handler('live'));
    const leaving = await adapter.subscribe(
      fx.spec({ group: left, topics: [topic] }),
      leftSeen.handler('left'),
    );
    const count = 30;
    await publishInBatches(adapter, records(topic, 'first', count));
    await liveSeen.untilDistinct(count, settings.deliveryTimeoutMs);
    await leftSeen.untilDistinct(count, settings.deliveryTimeoutMs);
    await fx.closeSubscription(leaving);
    // The group that left keeps its position: what is published now is its lag.
    await publishInBatches(adapter, records(topic, 'second', count));
    await liveSeen.untilDistinct(2 * count, settings.deliveryTimeoutMs);
    const byName = (groups: readonly GroupDescription[], name: string) =>
      groups.find((g) => g.group === name);
    const groups = await groupsReach(
      admin,
      topic,
      (gs) => byName(gs, live)?.lag === 0 && byName(gs, left)?.lag === count,
      settings.deliveryTimeoutMs,
    );
    expect(groups.every((g) => g.topic === topic)).toBe(true);
    const liveGroup = byName(groups, live)!;
    const leftGroup = byName(groups, left)!;
    expect(['active', 'unknown']).toContain(liveGroup.state);
    if (liveGroup.members !== undefined) expect(liveGroup.members).toBeGreaterThan(0);
    expect(['idle', 'unknown']).toContain(leftGroup.state);
    if (leftGroup.members !== undefined) expect(leftGroup.members).toBe(0);
    expect(await admin.deleteGroup(topic, left)).toBe(true);
    await groupsReach(admin, topic, (gs) => byName(gs, left) === undefined, settings.deliveryTimeoutMs);
    expect(await admin.deleteGroup(topic, left)).toBe(false);
    // The live group was not touched.
    expect(byName(await admin.describeGroups([topic]), live)).toBeDefined();
    expect(await admin.describeGroups([fx.topic('groups-none')])).toEqual([]);
    return undefined;
  },
};
