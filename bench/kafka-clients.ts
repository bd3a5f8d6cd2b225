// kafkajs and @platformatic/kafka side by side on the same broker in the same run (issue 18): the
// figures the move of the Kafka adapter to a maintained client is decided with. No Tidings here:
// each client is used as a practised user of it would, with the same settings where both have them.
//
//   publish     `messages` records of 1 KiB, keyed, in batches of BATCH, one batch in flight, each
//               producer idempotent with acks from every in-sync replica. kafkajs allows one
//               request in flight to an idempotent producer (its docs); @platformatic/kafka 1.35's
//               idempotent producer fails concurrent sends with OUT_OF_ORDER_SEQUENCE_NUMBER (seen
//               with 4 at once, even with maxInflights: 1), so both lanes send one after another.
//   consume     the backlog publish left, by a new group from the earliest offset with automatic
//               commits, timed from the first record to the last (joining is the scenario below);
//               a quick run's backlog fits in a fetch or two, so only a full run's figure means much
//   e2e         records sent one per send() at E2E_RATE a second to a group that is already
//               consuming; each one's latency is its arrival minus the start of its send
//   group-join  GROUP_MEMBERS consumers of one group start at once on a topic of as many
//               partitions; timed until each member's latest assignment holds one partition and
//               together they hold them all (one settled generation); the median of the rounds
//
// Rounds alternate the clients, so that noise from the rest of the machine hits both alike.
// Topics and groups are made and deleted through kafkajs's admin client, which is outside every
// measurement.
//
// Run: npm run bench:kafka-clients [-- --quick] [--messages N] [--rounds N]
// It needs the local broker (bash tools/kafka/kafka.sh start), and nothing built. A full run writes
// bench/results/kafka-clients.json and the `kafka-clients` block of docs/adapters/kafka.md; a quick
// one only prints. It is not part of `npm run bench` (CI runs every suite of that one).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  compatibilityPartitioner,
  type MessageToProduce,
  Consumer as PlatformaticConsumer,
  Producer as PlatformaticProducer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import {
  type Admin,
  type Consumer,
  Kafka,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
} from 'kafkajs';
import { latestResults, root, writeFigures } from '../tools/bench-figures';
import { argument } from './lib/cli';
import { bounded, countdown, paced, within } from './lib/load';
import { machineInfo } from './lib/machine';
import { median, ms, percentile } from './lib/result';

const BROKER = '127.0.0.1:9092';
const BATCH = 500;
const BATCHES_IN_FLIGHT = 1;
const PARTITIONS = 6;
/** Well below what one send at a time reaches on the project's busy 2-core machine (a few hundred a second). */
const E2E_RATE = 50;
const GROUP_MEMBERS = 10;
/** The consumer settings both clients are given (kafkajs's defaults are 5 s fetch waits, 3 s heartbeats). */
const MAX_WAIT_MS = 500;
const SESSION_TIMEOUT_MS = 10_000;
const HEARTBEAT_MS = 500;
const MESSAGE_BYTES = 1024;
const KEYS = 64;

/** The two clients compared. */
export type KafkaClientName = 'kafkajs' | '@platformatic/kafka';
export const CLIENTS: readonly KafkaClientName[] = ['kafkajs', '@platformatic/kafka'];

/** One measured row of bench/results/kafka-clients.json. */
export interface ClientRow {
  readonly scenario: 'publish' | 'consume' | 'e2e-latency' | 'group-join';
  readonly client: KafkaClientName;
  /** Records per round, or members for group-join. */
  readonly messages: number;
  /** Throughput (publish, consume), or the rate records were sent at (e2e-latency); else null. */
  readonly msgsPerSec: number | null;
  /** Latency percentiles (e2e-latency) in milliseconds; else null. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** Time to a settled group (group-join) in milliseconds; else null. */
  readonly durationMs: number | null;
}

interface Sample {
  readonly seq: number;
  readonly sentAt: number;
}

/** One client's side: what each scenario needs of it. */
interface ClientLane {
  readonly client: KafkaClientName;
  /** Publishes `count` records to `topic` in batches, `inFlight` batches at once. */
  publish(topic: string, count: number): Promise<void>;
  /** Starts group `group` on `topic` from the earliest offset; `onRecord` gets each record's value. */
  consume(
    topic: string,
    group: string,
    onRecord: (value: string) => void,
  ): Promise<{ stop(): Promise<void> }>;
  /** Sends one record on its own. */
  send(topic: string, value: string, key: string): Promise<void>;
  /**
   * Starts one member of `group` on `topic` (from the latest offset, nothing to read); `onAssigned`
   * gets its partitions each time the member joins a generation.
   */
  member(
    topic: string,
    group: string,
    onAssigned: (partitions: number[]) => void,
  ): Promise<{ stop(): Promise<void> }>;
  close(): Promise<void>;
}

function record(seq: number): { key: string; value: string } {
  const bare = {
    seq,
    sentAt: performance.now(),
    key: `k-${String(seq % KEYS).padStart(2, '0')}`,
    payload: '',
  };
  const payload = 'x'.repeat(Math.max(0, MESSAGE_BYTES - JSON.stringify(bare).length));
  return { key: bare.key, value: JSON.stringify({ ...bare, payload }) };
}

function kafkajsLane(): ClientLane {
  const kafka = new Kafka({ clientId: 'bench-kafkajs', brokers: [BROKER], logLevel: logLevel.NOTHING });
  // The murmur2 partitioner (the Java client's), idempotent with one request in flight, as kafkajs's
  // docs require of an idempotent producer.
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const consumers = new Set<Consumer>();
  let connected: Promise<void> | undefined;
  const ready = () => (connected ??= producer.connect());
  const start = async (group: string, fromBeginning: boolean, topic: string) => {
    const consumer = kafka.consumer({
      groupId: group,
      maxWaitTimeInMs: MAX_WAIT_MS,
      sessionTimeout: SESSION_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_MS,
    });
    consumers.add(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning });
    return consumer;
  };
  const stopper = (consumer: Consumer) => ({
    async stop() {
      consumers.delete(consumer);
      await consumer.disconnect();
    },
  });
  return {
    client: 'kafkajs',
    async publish(topic, count) {
      await ready();
      await bounded(Math.ceil(count / BATCH), BATCHES_IN_FLIGHT, async (b) => {
        const messages: Message[] = [];
        for (let i = b * BATCH; i < Math.min(count, (b + 1) * BATCH); i++) {
          const { key, value } = record(i);
          messages.push({ key, value, headers: { type: 'bench.event' } });
        }
        await producer.send({ topic, acks: -1, messages });
      });
    },
    async consume(topic, group, onRecord) {
      const consumer = await start(group, true, topic);
      // eachBatch, the faster of kafkajs's two loops, with its automatic offset resolution and commits.
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages)
            if (message.value !== null) onRecord(message.value.toString());
        },
      });
      return stopper(consumer);
    },
    async send(topic, value, key) {
      await ready();
      await producer.send({ topic, acks: -1, messages: [{ key, value, headers: { type: 'bench.event' } }] });
    },
    async member(topic, group, onAssigned) {
      const consumer = await start(group, false, topic);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        onAssigned(payload.memberAssignment[topic] ?? []);
      });
      await consumer.run({ eachMessage: async () => undefined });
      return stopper(consumer);
    },
    async close() {
      await Promise.allSettled([...consumers].map((consumer) => consumer.disconnect()));
      if (connected !== undefined) await producer.disconnect();
    },
  };
}

function platformaticLane(): ClientLane {
  const base = { clientId: 'bench-platformatic', bootstrapBrokers: [BROKER] };
  // Idempotent (acks from every in-sync replica follow). The Java client's (and kafkajs's) murmur2
  // placement of keys needs the compatibility partitioner: the default one places keys differently.
  const producer = new PlatformaticProducer({
    ...base,
    idempotent: true,
    partitioner: compatibilityPartitioner,
    serializers: stringSerializers,
  });
  const consumers = new Set<PlatformaticConsumer<string, string, string, string>>();
  // Sends one after another (see the top of the file): the paced e2e sends queue here.
  let last: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(send: () => Promise<T>): Promise<T> => {
    const next = last.then(send, send);
    last = next.catch(() => undefined);
    return next;
  };
  const start = (group: string) => {
    const consumer = new PlatformaticConsumer({
      ...base,
      groupId: group,
      deserializers: stringDeserializers,
      maxWaitTime: MAX_WAIT_MS,
      sessionTimeout: SESSION_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_MS,
    });
    consumers.add(consumer);
    return consumer;
  };
  const stopper = (
    consumer: PlatformaticConsumer<string, string, string, string>,
    stream: { close(): Promise<void> },
  ) => ({
    async stop() {
      consumers.delete(consumer);
      await stream.close();
      await consumer.close(true);
    },
  });
  return {
    client: '@platformatic/kafka',
    async publish(topic, count) {
      await bounded(Math.ceil(count / BATCH), BATCHES_IN_FLIGHT, async (b) => {
        const messages: MessageToProduce<string, string, string, string>[] = [];
        for (let i = b * BATCH; i < Math.min(count, (b + 1) * BATCH); i++) {
          const { key, value } = record(i);
          messages.push({ topic, key, value, headers: { type: 'bench.event' } });
        }
        await inTurn(() => producer.send({ messages }));
      });
    },
    async consume(topic, group, onRecord) {
      const consumer = start(group);
      const stream = await consumer.consume({
        topics: [topic],
        mode: 'committed',
        fallbackMode: 'earliest',
        autocommit: true,
      });
      stream.on('data', (message) => onRecord(message.value));
      return stopper(consumer, stream);
    },
    async send(topic, value, key) {
      await inTurn(() =>
        producer.send({ messages: [{ topic, key, value, headers: { type: 'bench.event' } }] }),
      );
    },
    async member(topic, group, onAssigned) {
      const consumer = start(group);
      consumer.on('consumer:group:join', (payload) => {
        onAssigned(payload.assignments?.find((a) => a.topic === topic)?.partitions ?? []);
      });
      const stream = await consumer.consume({ topics: [topic], mode: 'latest', autocommit: true });
      stream.on('data', () => undefined);
      return stopper(consumer, stream);
    },
    async close() {
      await Promise.allSettled([...consumers].map((consumer) => consumer.close(true)));
      await producer.close();
    },
  };
}

interface Settings {
  readonly messages: number;
  readonly rounds: number;
  readonly e2eSeconds: number;
  readonly quick: boolean;
}

/** Runs every scenario for both clients; rows in the order of {@link CLIENTS}. */
export async function run(settings: Settings): Promise<ClientRow[]> {
  const prefix = `bench-clients-${Date.now().toString(36)}`;
  const admin = new Kafka({ clientId: 'bench-admin', brokers: [BROKER], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  let n = 0;
  const topic = async (name: string, partitions = PARTITIONS) => {
    const made = `${prefix}-${name}-${n++}`;
    await admin.createTopics({ topics: [{ topic: made, numPartitions: partitions }], waitForLeaders: true });
    return made;
  };
  const lanes = [kafkajsLane(), platformaticLane()];
  const rates = new Map<string, number[]>();
  const note = (scenario: string, client: KafkaClientName, value: number) => {
    const key = `${scenario}\u0000${client}`;
    rates.set(key, [...(rates.get(key) ?? []), value]);
  };
  const rows: ClientRow[] = [];
  try {
    for (let round = 0; round < settings.rounds; round++) {
      // Alternate which client goes first.
      const order = round % 2 === 0 ? lanes : [...lanes].reverse();
      for (const lane of order) {
        const target = await topic(`tp-${lane.client.replace(/\W/g, '')}`);
        const started = performance.now();
        await lane.publish(target, settings.messages);
        note('publish', lane.client, (settings.messages * 1000) / (performance.now() - started));

        const done = countdown(settings.messages, 120_000, `${lane.client} consume`);
        let first = 0;
        const consumer = await lane.consume(target, `${target}-g`, () => {
          if (done.count === 0) first = performance.now();
          done.hit();
        });
        await done.done;
        note('consume', lane.client, ((settings.messages - 1) * 1000) / (performance.now() - first));
        await consumer.stop();

        note('group-join', lane.client, await groupJoin(lane, await topic('join', GROUP_MEMBERS), admin));
      }
    }
    for (const lane of lanes) {
      for (const scenario of ['publish', 'consume'] as const) {
        rows.push({
          scenario,
          client: lane.client,
          messages: settings.messages,
          msgsPerSec: Math.round(median(rates.get(`${scenario}\u0000${lane.client}`) ?? [])),
          p50Ms: null,
          p99Ms: null,
          durationMs: null,
        });
      }
    }
    for (const lane of lanes) rows.push(await e2e(lane, await topic('e2e'), settings));
    for (const lane of lanes) {
      rows.push({
        scenario: 'group-join',
        client: lane.client,
        messages: GROUP_MEMBERS,
        msgsPerSec: null,
        p50Ms: null,
        p99Ms: null,
        durationMs: Math.round(median(rates.get(`group-join\u0000${lane.client}`) ?? [])),
      });
    }
  } finally {
    await Promise.allSettled(lanes.map((lane) => lane.close()));
    const topics = (await admin.listTopics()).filter((name) => name.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const { groups } = await admin.listGroups();
    const mine = groups.map((group) => group.groupId).filter((group) => group.startsWith(prefix));
    if (mine.length > 0) await admin.deleteGroups(mine).catch(() => undefined);
    await admin.disconnect();
  }
  return rows;
}

async function e2e(lane: ClientLane, topic: string, settings: Settings): Promise<ClientRow> {
  const latencies: number[] = [];
  const count = E2E_RATE * settings.e2eSeconds;
  const warm = countdown(1, 120_000, `${lane.client} e2e warm-up`);
  const arrived = countdown(count, 120_000, `${lane.client} e2e`);
  const consumer = await lane.consume(topic, `${topic}-g`, (value) => {
    const sample = JSON.parse(value) as Sample;
    if (sample.seq < 0) return warm.hit();
    latencies.push(performance.now() - sample.sentAt);
    arrived.hit();
  });
  try {
    // Until the group has joined and fetches: a warm-up record, sent again each second until one arrives.
    const deadline = performance.now() + 60_000;
    while (warm.count === 0) {
      if (performance.now() > deadline) throw new Error(`${lane.client}: no warm-up record arrived in 60 s`);
      const { key, value } = record(-1);
      await lane.send(topic, value, key);
      await within(warm.done, 1_000, 'warm-up').catch(() => undefined);
    }
    await paced(count, E2E_RATE, async (i) => {
      const { key, value } = record(i);
      await lane.send(topic, value, key);
    });
    await arrived.done;
  } finally {
    await consumer.stop();
  }
  return {
    scenario: 'e2e-latency',
    client: lane.client,
    messages: latencies.length,
    msgsPerSec: E2E_RATE,
    p50Ms: ms(percentile(latencies, 50)),
    p99Ms: ms(percentile(latencies, 99)),
    durationMs: null,
  };
}

/** Milliseconds until GROUP_MEMBERS members started at once hold one partition each. */
async function groupJoin(lane: ClientLane, topic: string, admin: Admin): Promise<number> {
  const group = `${topic}-g`;
  const latest = new Map<number, number[]>();
  let settled!: () => void;
  const done = new Promise<void>((resolve) => {
    settled = resolve;
  });
  const check = () => {
    if (latest.size < GROUP_MEMBERS) return;
    const held = [...latest.values()];
    const all = new Set(held.flat());
    if (held.every((partitions) => partitions.length === 1) && all.size === GROUP_MEMBERS) settled();
  };
  const started = performance.now();
  const members = await Promise.all(
    Array.from({ length: GROUP_MEMBERS }, (_, i) =>
      lane.member(topic, group, (partitions) => {
        latest.set(i, partitions);
        check();
      }),
    ),
  );
  try {
    await within(done, 120_000, `${lane.client}: ${GROUP_MEMBERS} members did not settle`);
    const took = performance.now() - started;
    // Outside the timing: the coordinator agrees that the group is one stable generation of them all.
    const [described] = (await admin.describeGroups([group])).groups;
    if (described?.state !== 'Stable' || described.members.length !== GROUP_MEMBERS) {
      throw new Error(
        `${lane.client}: the members' assignments looked settled, but the group is ${described?.state} with ${described?.members.length} members`,
      );
    }
    return took;
  } finally {
    await Promise.allSettled(members.map((member) => member.stop()));
  }
}

/** Where a full run keeps its rows, with the machine they were measured on. */
export const resultsFile = join(root, 'bench', 'results', 'kafka-clients.json');

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const number = (name: string, fallback: number) => {
    const value = Number(argument(name) ?? fallback);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  const settings: Settings = {
    messages: number('messages', quick ? 5_000 : 20_000),
    rounds: number('rounds', quick ? 1 : 3),
    e2eSeconds: quick ? 2 : 5,
    quick,
  };
  const began = performance.now();
  const rows = await run(settings);
  console.table(rows);
  if (!quick) {
    await writeFile(resultsFile, `${JSON.stringify({ machine: machineInfo(), rows }, null, 2)}\n`);
    const { results, machine } = await latestResults();
    await writeFigures(results, machine);
    console.log(
      'wrote bench/results/kafka-clients.json and the kafka-clients block of docs/adapters/kafka.md',
    );
  }
  console.log(`took ${((performance.now() - began) / 1000).toFixed(1)} s`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
