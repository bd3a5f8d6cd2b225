import { createRedactor } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import type { KafkaClient } from '../src/client/client';
import type { GroupConsumerHandlers, MemberAssignment, PartitionBatch } from '../src/client/consumer';
import { ConnectionMonitor } from '../src/connection';
import { deferred } from '../src/deferred';
import { type KafkaAdapterOptions, resolveOptions } from '../src/options';
import { BROKERS, TEST_CONSUMER, useKafka } from './helpers';

/**
 * What every client behind `src/client/` must do, on the shared broker: the promises of the seam's
 * interfaces that the adapter relies on, one client at a time. kafkajs passes it today; the
 * @platformatic/kafka client of issue 18 is to pass the same file.
 */

/** Makes a client of one kind from the adapter's resolved options and a connection monitor. */
export type ClientMaker = (
  options: ReturnType<typeof resolveOptions>,
  monitor: ConnectionMonitor,
) => KafkaClient;

/** Keys and the partitions of 6 the Java client's murmur2 gives them (what kafkajs's DefaultPartitioner gives). */
const JAVA_PARTITIONS = [1, 0, 2, 5, 3, 2, 2, 1, 1, 3, 2, 1];

/** What a test's consumer saw, in order: the callbacks of the seam, as short entries. */
interface Recorder {
  readonly events: string[];
  readonly batches: PartitionBatch[];
  readonly assignments: MemberAssignment[];
  readonly crashes: unknown[];
  /** Resolves once `predicate` holds after some callback. */
  until(predicate: () => boolean, ms?: number): Promise<void>;
}

/** Handlers that record every callback; `onBatch` decides what each batch resolves. */
function recording(
  onBatch: (batch: PartitionBatch) => void | Promise<void> = (batch) => batch.resolve(batch.lastOffset + 1),
): { recorder: Recorder; handlers: GroupConsumerHandlers } {
  const waiters = new Set<() => void>();
  const recorder: Recorder = {
    events: [],
    batches: [],
    assignments: [],
    crashes: [],
    until(predicate, ms = 20_000) {
      if (predicate()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate()) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`not within ${ms} ms; events: ${recorder.events.join(' ')}`));
        }, ms);
        waiters.add(check);
      });
    },
  };
  const note = (event: string) => {
    recorder.events.push(event);
    for (const check of [...waiters]) check();
  };
  const handlers: GroupConsumerHandlers = {
    async batch(batch) {
      recorder.batches.push(batch);
      await onBatch(batch);
      note(`batch:${batch.partition}@${batch.records[0]?.offset}`);
    },
    assigned(assignment) {
      recorder.assignments.push(assignment);
      note(`assigned:${JSON.stringify(assignment.partitions)}`);
    },
    rebalancing: () => note('rebalancing'),
    fetchStarted: () => undefined,
    crashed(error) {
      recorder.crashes.push(error);
      note('crashed');
    },
  };
  return { recorder, handlers };
}

/** The values of the records a recorder's batches brought from `partition`. */
function valuesOf(recorder: Recorder, partition: number): string[] {
  return recorder.batches
    .filter((batch) => batch.partition === partition)
    .flatMap((batch) => batch.records.map((record) => record.value?.toString() ?? ''));
}

/**
 * Registers the contract's tests for one client.
 * @example
 * clientContract('kafkajs', kafkajsClient);
 */
export function clientContract(name: string, make: ClientMaker): void {
  describe(`the ${name} client`, () => {
    const kafka = useKafka(`c${name.slice(0, 3)}`);
    const client = (overrides: Partial<KafkaAdapterOptions> = {}) => {
      const options = resolveOptions({ brokers: BROKERS, clientId: 'tidings-test-client', ...overrides });
      return make(options, new ConnectionMonitor(createRedactor()));
    };

    const consumerSettings = (groupId: string) => ({
      groupId,
      ...TEST_CONSUMER,
      maxBytesPerPartition: 1 << 20,
    });
    /** Records keyed so that the Java client's partitioner puts `key-1` on 0 and `key-0` on 1 of 2+. */
    const keyed = (key: 'key-0' | 'key-1', values: readonly string[]) =>
      values.map((value) => ({ key, value: Buffer.from(value), headers: {} }));

    it('creates topics once, describes them, reads their configs and ends, and never auto-creates', async () => {
      const { topic } = kafka.names('admin');
      const { admin, disconnect } = await client().connectAdmin();
      try {
        const created = { topic, partitions: 3, configs: { 'retention.ms': '3600000' } };
        expect(await admin.createTopic(created, { waitForLeaders: true })).toBe(true);
        expect(await admin.createTopic(created, { waitForLeaders: true })).toBe(false);
        const info = await admin.topicInfo(topic);
        expect(info.error).toBeUndefined();
        expect(info.partitions.map((p) => p.partition).sort()).toEqual([0, 1, 2]);
        expect(info.partitions.every((p) => p.leader >= 0 && p.error === undefined)).toBe(true);
        expect((await admin.topicConfigs(topic, ['retention.ms'])).get('retention.ms')).toBe('3600000');
        expect(await admin.topicEnds(topic)).toEqual(
          expect.arrayContaining([0, 1, 2].map((partition) => ({ partition, low: 0, high: 0 }))),
        );
        const missing = `${topic}-missing`;
        expect((await admin.topicInfo(missing)).error).toBe('UNKNOWN_TOPIC_OR_PARTITION');
        expect(await admin.listTopics()).not.toContain(missing);
      } finally {
        await disconnect();
      }
    });

    it('produces keyed records where the Java client would, and reads them back without a group', async () => {
      const { topic, group } = kafka.names('produce');
      const made = client();
      const { admin, disconnect } = await made.connectAdmin();
      const producer = made.producers.producer({ allowAutoTopicCreation: false });
      try {
        await admin.createTopic({ topic, partitions: 6 }, { waitForLeaders: true });
        await producer.connect();
        const messages = JAVA_PARTITIONS.map((_, i) => ({
          key: `key-${i}`,
          value: Buffer.from(`v${i}`),
          headers: { h: `x${i}` },
        }));
        await producer.send([{ topic, messages }], { compression: 'gzip', timeoutMs: 10_000 });
        const ends = await admin.topicEnds(topic);
        const placed = new Map<string, number>();
        for (const { partition, high } of ends) {
          const records = high === 0 ? [] : await made.reader.fetch(topic, partition, 0, 1 << 20);
          for (const record of records) {
            placed.set(record.key?.toString() ?? '', partition);
            expect(record.headers.h?.toString()).toBe(`x${record.key?.toString().slice(4)}`);
          }
        }
        expect(JAVA_PARTITIONS.map((_, i) => placed.get(`key-${i}`))).toEqual(JAVA_PARTITIONS);
        // Offsets of a group nobody joined, moved as no member; metadata-less, as a reset tool leaves them.
        await made.reader.commitAsNoMember(group, topic, new Map([[JAVA_PARTITIONS[0]!, 1]]));
        const [committed] = await admin.groupOffsets(group, [topic]);
        expect(committed?.partitions.find((p) => p.partition === JAVA_PARTITIONS[0])?.offset).toBe(1);
        expect(committed?.partitions.find((p) => p.partition !== JAVA_PARTITIONS[0])?.offset).toBe(-1);
        expect(await admin.offsetsAt(topic, 0)).toEqual(
          expect.arrayContaining([{ partition: JAVA_PARTITIONS[0]!, offset: 0 }]),
        );
        await admin.deleteRecords(topic, [{ partition: JAVA_PARTITIONS[0]!, offset: 1 }]);
        const low = (await admin.topicEnds(topic)).find((e) => e.partition === JAVA_PARTITIONS[0])?.low;
        expect(low).toBe(1);
        const [described] = await admin.describeGroups([group]);
        expect(described?.members).toEqual([]);
        expect((await admin.deleteGroups([`${group}-never`])).get(`${group}-never`)).toBe(
          'GROUP_ID_NOT_FOUND',
        );
        expect((await admin.deleteGroups([group])).size).toBe(0);
      } finally {
        await producer.disconnect();
        await disconnect();
      }
    });

    it('commits a transaction visibly and marks an aborted one, and a new producer with the id fences the old', async () => {
      const { topic } = kafka.names('tx');
      const made = client();
      const { admin, disconnect } = await made.connectAdmin();
      const settings = {
        transactionalId: `${topic}-tx`,
        transactionTimeoutMs: 30_000,
        allowAutoTopicCreation: false,
      };
      const first = made.producers.transactionalProducer(settings);
      const second = made.producers.transactionalProducer(settings);
      const one = (value: string) => [
        { topic, messages: [{ key: null, value: Buffer.from(value), headers: {} }] },
      ];
      try {
        await admin.createTopic({ topic, partitions: 1 }, { waitForLeaders: true });
        await first.connect();
        const kept = await first.transaction();
        await kept.send(one('kept'));
        await kept.commit();
        const dropped = await first.transaction();
        await dropped.send(one('dropped'));
        await dropped.abort();
        const zombie = await first.transaction();
        await zombie.send(one('zombie'));
        await second.connect();
        const fencing = await second.transaction();
        await expect(zombie.commit()).rejects.toBeDefined();
        await fencing.send(one('after'));
        await fencing.commit();
        // A transaction that wrote nothing ends, committed or aborted, and the producer begins the next.
        await (await second.transaction()).commit();
        await (await second.transaction()).abort();
        const last = await second.transaction();
        await last.send(one('last'));
        await last.commit();
        // The coordinator writes a commit's markers after EndTxn has answered, and the broker serves
        // up to the last stable offset: the last transaction shows once its marker is in the log.
        const visibleNow = async () => {
          const records = await made.reader.fetch(topic, 0, 0, 1 << 20);
          return records.filter((r) => !r.control && !r.aborted).map((r) => r.value?.toString());
        };
        let visible = await visibleNow();
        for (const deadline = Date.now() + 10_000; visible.length < 3 && Date.now() < deadline; ) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          visible = await visibleNow();
        }
        expect(visible).toEqual(['kept', 'after', 'last']);
      } finally {
        await first.disconnect();
        await second.disconnect();
        await disconnect();
      }
    });

    it('joins a group, hands batches over, and commits positions with metadata', async () => {
      const { topic, group } = kafka.names('group');
      const made = client();
      const { admin, disconnect } = await made.connectAdmin();
      const producer = made.producers.producer({ allowAutoTopicCreation: false });
      const consumer = made.consumers.groupConsumer({
        groupId: group,
        ...TEST_CONSUMER,
        maxBytesPerPartition: 1 << 20,
      });
      try {
        await admin.createTopic({ topic, partitions: 2 }, { waitForLeaders: true });
        await producer.connect();
        const messages = ['a', 'b', 'c', 'd'].map((key) => ({ key, value: Buffer.from(key), headers: {} }));
        await producer.send([{ topic, messages }], { compression: 'none', timeoutMs: 10_000 });
        const seen: string[] = [];
        let assignment: MemberAssignment | undefined;
        const allSeen = deferred();
        const crashes: unknown[] = [];
        await consumer.run(
          [topic],
          { fromBeginning: true },
          {
            async batch(batch: PartitionBatch) {
              for (const record of batch.records) seen.push(record.value?.toString() ?? '');
              batch.resolve(batch.lastOffset + 1);
              if (seen.length >= messages.length) allSeen.resolve();
            },
            assigned: (given) => {
              assignment = given;
            },
            rebalancing: () => undefined,
            fetchStarted: () => undefined,
            crashed: (error) => crashes.push(error),
          },
        );
        await allSeen.promise;
        expect(seen.sort()).toEqual(['a', 'b', 'c', 'd']);
        expect(
          Object.values(assignment?.partitions ?? {})
            .flat()
            .sort(),
        ).toEqual([0, 1]);
        await consumer.commit([{ topic, partition: 0, offset: 1, metadata: '{"v":1}' }]);
        const [committed] = await admin.groupOffsets(group, [topic]);
        expect(committed?.partitions.find((p) => p.partition === 0)).toMatchObject({
          offset: 1,
          metadata: '{"v":1}',
        });
        const [described] = await admin.describeGroups([group]);
        expect(described?.members.map((m) => m.assignedTopics)).toEqual([[topic]]);
        expect(crashes).toEqual([]);
      } finally {
        await consumer.disconnect().catch(() => undefined);
        await producer.disconnect();
        await disconnect();
      }
    });
    it('stops handing over a paused partition while the others flow, and hands it over once resumed', async () => {
      const { topic, group } = kafka.names('pause');
      const made = client();
      const { admin, disconnect } = await made.connectAdmin();
      const producer = made.producers.producer({ allowAutoTopicCreation: false });
      const consumer = made.consumers.groupConsumer(consumerSettings(group));
      const { recorder, handlers } = recording();
      try {
        await admin.createTopic({ topic, partitions: 2 }, { waitForLeaders: true });
        await producer.connect();
        await consumer.run(
          [topic],
          { fromBeginning: true },
          {
            ...handlers,
            assigned(assignment) {
              // Paused before the first fetch of the assignment, as the subscription pauses a held partition.
              consumer.pause(topic, 0);
              handlers.assigned(assignment);
            },
          },
        );
        await recorder.until(() => recorder.assignments.length > 0);
        const send = (key: 'key-0' | 'key-1', values: string[]) =>
          producer.send([{ topic, messages: keyed(key, values) }], {
            compression: 'none',
            timeoutMs: 10_000,
          });
        await send('key-1', ['p0-a', 'p0-b']);
        await send('key-0', ['p1-a', 'p1-b']);
        await recorder.until(() => valuesOf(recorder, 1).length >= 2);
        await send('key-0', ['p1-c']);
        await recorder.until(() => valuesOf(recorder, 1).length >= 3);
        // Several fetch rounds went by for partition 1: none of them brought partition 0.
        await new Promise((resolve) => setTimeout(resolve, 3 * TEST_CONSUMER.maxWaitTimeMs));
        expect(valuesOf(recorder, 0)).toEqual([]);
        consumer.resume(topic, 0);
        await recorder.until(() => valuesOf(recorder, 0).length >= 2);
        expect(valuesOf(recorder, 0)).toEqual(['p0-a', 'p0-b']);
        expect(valuesOf(recorder, 1)).toEqual(['p1-a', 'p1-b', 'p1-c']);
        expect(recorder.crashes).toEqual([]);
      } finally {
        await consumer.disconnect().catch(() => undefined);
        await producer.disconnect();
        await disconnect();
      }
    });

    it('seeks a partition back: the batch in hand turns stale and the records from there come again', async () => {
      const { topic, group } = kafka.names('seek');
      const made = client();
      const { admin, disconnect } = await made.connectAdmin();
      const producer = made.producers.producer({ allowAutoTopicCreation: false });
      const consumer = made.consumers.groupConsumer(consumerSettings(group));
      let seeked = false;
      const stale: boolean[] = [];
      const after: number[] = [];
      const { recorder, handlers } = recording((batch) => {
        if (seeked) after.push(...batch.records.map((record) => record.offset));
        else if (batch.records.some((record) => record.offset === 4)) {
          seeked = true;
          consumer.seek(topic, 0, 2);
          // kafkajs says stale until the seek is applied, platformatic for good: asked at once here.
          stale.push(batch.isStale());
        }
        // Resolving a stale batch must not undo the seek.
        batch.resolve(batch.lastOffset + 1);
      });
      try {
        await admin.createTopic({ topic, partitions: 1 }, { waitForLeaders: true });
        await producer.connect();
        const values = ['r0', 'r1', 'r2', 'r3', 'r4'];
        await producer.send([{ topic, messages: keyed('key-0', values) }], {
          compression: 'none',
          timeoutMs: 10_000,
        });
        await consumer.run([topic], { fromBeginning: true }, handlers);
        await recorder.until(() => after.includes(4));
        expect(stale).toEqual([true]);
        expect(after).toEqual([2, 3, 4]);
        expect(recorder.crashes).toEqual([]);
      } finally {
        await consumer.disconnect().catch(() => undefined);
        await producer.disconnect();
        await disconnect();
      }
    });

    it('a second member joining makes the first rebalance, then both are assigned a share of the partitions', async () => {
      const { topic, group } = kafka.names('rebalance');
      const made = client();
      const { admin, disconnect } = await made.connectAdmin();
      const first = made.consumers.groupConsumer(consumerSettings(group));
      const second = made.consumers.groupConsumer(consumerSettings(group));
      const one = recording();
      const two = recording();
      const partitionsOf = (assignment: MemberAssignment | undefined) =>
        Object.values(assignment?.partitions ?? {})
          .flat()
          .sort();
      try {
        await admin.createTopic({ topic, partitions: 2 }, { waitForLeaders: true });
        await first.run([topic], { fromBeginning: true }, one.handlers);
        await one.recorder.until(() => one.recorder.assignments.length === 1);
        expect(partitionsOf(one.recorder.assignments[0])).toEqual([0, 1]);
        await second.run([topic], { fromBeginning: true }, two.handlers);
        await two.recorder.until(() => two.recorder.assignments.length >= 1);
        await one.recorder.until(() => one.recorder.assignments.length >= 2);
        // The first member heard of the rebalance before its new assignment.
        const events = one.recorder.events.filter((e) => e === 'rebalancing' || e.startsWith('assigned'));
        expect(events.slice(0, 3)).toEqual([events[0], 'rebalancing', events[2]]);
        expect(events[2]?.startsWith('assigned')).toBe(true);
        const mine = partitionsOf(one.recorder.assignments.at(-1));
        const theirs = partitionsOf(two.recorder.assignments.at(-1));
        expect(mine).toHaveLength(1);
        expect([...mine, ...theirs].sort()).toEqual([0, 1]);
        // Each commits its share as a member of the new generation.
        await first.commit([{ topic, partition: mine[0]!, offset: 0, metadata: 'one' }]);
        await second.commit([{ topic, partition: theirs[0]!, offset: 0, metadata: 'two' }]);
        const [committed] = await admin.groupOffsets(group, [topic]);
        const metadataOf = (p: number) => committed?.partitions.find((c) => c.partition === p)?.metadata;
        expect([metadataOf(mine[0]!), metadataOf(theirs[0]!)]).toEqual(['one', 'two']);
        const [described] = await admin.describeGroups([group]);
        expect(described?.members).toHaveLength(2);
        expect([...one.recorder.crashes, ...two.recorder.crashes]).toEqual([]);
      } finally {
        await second.disconnect().catch(() => undefined);
        await first.disconnect().catch(() => undefined);
        await disconnect();
      }
    });
    it('starts where the group committed, else at the latest offset, and hands over committed transactions only', async () => {
      const { topic, group } = kafka.names('start');
      const made = client();
      const { admin, disconnect } = await made.connectAdmin();
      const producer = made.producers.producer({ allowAutoTopicCreation: false });
      const transactional = made.producers.transactionalProducer({
        transactionalId: `${topic}-tx`,
        transactionTimeoutMs: 30_000,
        allowAutoTopicCreation: false,
      });
      const first = made.consumers.groupConsumer(consumerSettings(group));
      const second = made.consumers.groupConsumer(consumerSettings(group));
      const one = recording();
      const two = recording();
      const send = (values: string[]) =>
        producer.send([{ topic, messages: keyed('key-0', values) }], {
          compression: 'none',
          timeoutMs: 10_000,
        });
      try {
        await admin.createTopic({ topic, partitions: 2 }, { waitForLeaders: true });
        await producer.connect();
        await transactional.connect();
        await send(['before']);
        // Not from the beginning: partition 1 starts at its latest offset, past 'before'.
        await first.run([topic], { fromBeginning: false }, one.handlers);
        await one.recorder.until(() => one.recorder.assignments.length > 0);
        // Positions are read on the first fetch after the join; give it a round before producing.
        await new Promise((resolve) => setTimeout(resolve, 5 * TEST_CONSUMER.maxWaitTimeMs));
        const dropped = await transactional.transaction();
        await dropped.send([{ topic, messages: keyed('key-0', ['aborted']) }]);
        await dropped.abort();
        const kept = await transactional.transaction();
        await kept.send([{ topic, messages: keyed('key-0', ['committed']) }]);
        await kept.commit();
        await send(['after']);
        await one.recorder.until(() => valuesOf(one.recorder, 1).includes('after'));
        expect(valuesOf(one.recorder, 1)).toEqual(['committed', 'after']);
        const committedAt = one.recorder.batches
          .flatMap((b) => b.records)
          .find((r) => r.value?.toString() === 'committed')!.offset;
        await first.commit([{ topic, partition: 1, offset: committedAt, metadata: '{"v":2}' }]);
        await first.disconnect();
        // A new member of the group starts at the committed offset, fromBeginning or not.
        await second.run([topic], { fromBeginning: true }, two.handlers);
        await two.recorder.until(() => valuesOf(two.recorder, 1).includes('after'));
        expect(valuesOf(two.recorder, 1)).toEqual(['committed', 'after']);
        expect([...one.recorder.crashes, ...two.recorder.crashes]).toEqual([]);
      } finally {
        await second.disconnect().catch(() => undefined);
        await first.disconnect().catch(() => undefined);
        await transactional.disconnect();
        await producer.disconnect();
        await disconnect();
      }
    });
  });
}
