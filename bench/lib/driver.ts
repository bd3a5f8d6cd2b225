// One driver for every broker: a broker file supplies its lanes (one or more raw ones, each a way a
// skilled user of a client writes it for throughput, and two Tidings ones, `default` and `tuned`),
// and the driver measures them the same way, round by round, one lane after the other within a
// round, so that noise from the rest of the machine hits every lane alike.
//
//   publish         `messages` events, IN_FLIGHT publishes in flight, until every one is confirmed
//   consume         the backlog that publish left, drained by a consumer started afterwards; timed
//                   from the first delivery to the last, so that joining a group (seconds on Kafka,
//                   and done differently by each client) is not counted as consuming
//   consume-batch   the same on a fresh backlog, through the client's batch API (lanes that have one)
//   e2e-latency     events sent at a fixed rate well below saturation (see e2eRate), each one's
//                   latency the handler's time minus its publish's start (carried in the event)
//   serial-latency  one event in flight: publish, wait for the handler, publish the next
//
// The latency scenarios run on the baseline raw lane and the tuned Tidings lane only: the other
// lanes differ in how they batch or order under load, which latency at a low rate does not show,
// and leaving them out keeps a full run within minutes.
import type { BenchEvent } from './event';
import { benchEvent, MESSAGE_BYTES } from './event';
import { bounded, countdown, paced, within } from './load';
import {
  type BenchOptions,
  type BenchResult,
  type Impl,
  latencyRow,
  type RowKey,
  type TidingsLaneName,
  throughputRow,
} from './result';

/** What consumes a target; `stop` leaves it (the target itself stays until the lane closes). */
export interface LaneConsumer {
  stop(): Promise<void>;
}

/** Events per batch of every batch consumer, raw or Tidings. */
export const BATCH_SIZE = 100;
/** How long a batch consumer waits to fill a batch after its first event, where the client asks. */
export const BATCH_WAIT_MS = 50;

/** A fresh topic, queue or stream that one scenario publishes to and consumes from. */
export interface LaneTarget {
  /** Publishes one event, resolving once the broker has confirmed it. Called concurrently. */
  publish(event: BenchEvent): Promise<void>;
  /**
   * Starts reading the target from its start, calling `onEvent` once per delivery after decoding
   * it, and acknowledging it as the client's docs recommend. It may resolve before the consumer is
   * positioned: the driver sends warm-up events and waits for them before it measures.
   */
  consume(onEvent: (event: BenchEvent) => void): Promise<LaneConsumer>;
  /**
   * Like `consume`, through the client's batch API: `onEvents` once per batch of at most
   * {@link BATCH_SIZE} events, each batch acknowledged (or committed) at once after it. Absent on a
   * lane without one; the driver then leaves the consume-batch scenario out for that lane.
   */
  consumeBatch?(onEvents: (events: readonly BenchEvent[]) => void): Promise<LaneConsumer>;
}

/** One way of talking to a broker: a raw client, or Tidings. */
export interface Lane<TImpl extends Impl = Impl> {
  readonly impl: TImpl;
  /** The lane's name in the rows (`lane`): the raw client or way of using it, or the Tidings variant. */
  readonly name: string;
  /** Connects; called once, before any scenario. */
  open(): Promise<void>;
  /** Makes a target for scenario `name`, unique within the lane, that no other scenario uses. */
  prepare(name: string): Promise<LaneTarget>;
  /** Disconnects and deletes every topic, queue, stream, group and key the lane made. */
  close(): Promise<void>;
}

/** The two Tidings lanes of a broker (see {@link TidingsLaneName}). */
export type TidingsLanes = { readonly [TName in TidingsLaneName]: Lane<'tidings'> };

/** A broker's benchmark: its lanes and its fixed end-to-end rate. */
export interface BrokerBench {
  readonly broker: string;
  /** The raw lanes, each a different client or way of using one; names unique. */
  readonly raw: readonly Lane<'raw'>[];
  /**
   * The raw lane the Tidings lanes are compared with: the client the adapter runs on, used as a
   * skilled user would. It also runs the latency scenarios. One of `raw`'s names.
   */
  readonly baseline: string;
  readonly tidings: TidingsLanes;
  /**
   * Events per second of the e2e-latency scenario. The driver lowers it to a quarter of the slowest
   * publish or consume rate it measured on a latency lane, so that on a slower machine it still
   * stays below saturation and measures latency, not a queue.
   */
  readonly e2eRate: number;
  /**
   * Deletes what the lanes left under the run's prefix, after all have closed; for brokers where
   * one sweep by name is simpler than each lane keeping a list.
   */
  readonly cleanup?: () => Promise<void>;
}

/** Settings of {@link runBroker}; each has a default for the full and the quick run. */
export interface DriverOptions extends BenchOptions {
  /**
   * Measured rounds of each lane. Default 5, quick 1. (5 rounds of every scenario took about 11
   * minutes for all suites on the project's 2-core machine with two lanes a broker; with the
   * default, batch and extra raw lanes, which run throughput only, aim for under 20.) A quick run is
   * a smoke run whose figures CI prints and nobody compares: it needs every scenario of every lane
   * once, not a median, and each round of a broker costs seconds of group joins and set-up.
   */
  readonly rounds?: number;
  /** Length of the e2e-latency scenario. Default 10 s, quick 1 s. */
  readonly e2eSeconds?: number;
  /** Events of the serial-latency scenario. Default 500, quick 50. */
  readonly serialSamples?: number;
}

/** Publishes in flight at once, the same for every lane. */
export const IN_FLIGHT = 100;
/** Events sent one at a time, and waited for, before a latency scenario measures. */
const WARM_UP_EVENTS = 10;
/** The longest a scenario waits for its deliveries before the run fails. */
const TIMEOUT_MS = 120_000;

/** Publishes `messages` events to a new target of `lane`; the target and the publish rate. */
async function backlog(
  lane: Lane,
  name: string,
  messages: number,
): Promise<{ target: LaneTarget; rate: number }> {
  const target = await lane.prepare(name);
  const started = performance.now();
  await bounded(messages, IN_FLIGHT, (seq) => target.publish(benchEvent(seq)));
  return { target, rate: messages / ((performance.now() - started) / 1000) };
}

/**
 * Drains a backlog of `messages` events with the consumer `start` makes (it calls `delivered(n)` for
 * each delivery of n events); the rate from the first delivery to the last. The first delivery
 * opens the clock, so its events do not count: the rest came in (last − first).
 */
async function drain(
  what: string,
  messages: number,
  start: (delivered: (count: number) => void) => Promise<LaneConsumer>,
): Promise<number> {
  let first = 0;
  let firstCount = 0;
  let last = 0;
  let count = 0;
  const drained = countdown(messages, TIMEOUT_MS, what);
  const consumer = await start((n) => {
    last = performance.now();
    if (count === 0) {
      first = last;
      firstCount = n;
    }
    count += n;
    for (let i = 0; i < n; i++) drained.hit();
  });
  try {
    await drained.done;
  } finally {
    await consumer.stop();
  }
  return Math.max(1, messages - firstCount) / (Math.max(last - first, 0.001) / 1000);
}

/** What one round of one lane measured; `batch` only where the lane has a batch consumer. */
interface Throughput {
  readonly publish: number;
  readonly consume: number;
  readonly batch?: number;
}

/**
 * Publish `messages` events with IN_FLIGHT in flight, then drain them with a new consumer; where the
 * lane has a batch consumer, the same again on a fresh backlog drained by it (its publish is not
 * counted: it is the same publish).
 */
async function throughput(lane: Lane, name: string, messages: number): Promise<Throughput> {
  const { target, rate: publish } = await backlog(lane, name, messages);
  const consume = await drain(`${lane.name} ${name} consume`, messages, (delivered) =>
    target.consume(() => delivered(1)),
  );
  if (target.consumeBatch === undefined) return { publish, consume };
  const { target: again } = await backlog(lane, `${name}-batch`, messages);
  const consumeBatch = again.consumeBatch?.bind(again);
  if (consumeBatch === undefined) return { publish, consume };
  const batch = await drain(`${lane.name} ${name} consume-batch`, messages, (delivered) =>
    consumeBatch((events) => delivered(events.length)),
  );
  return { publish, consume, batch };
}

/**
 * Starts a consumer on `target` that hands measured events (seq ≥ 0) to `onMeasured` with their
 * latency, and returns once warm-up events (seq < 0), sent one at a time, have come through.
 */
async function listen(
  lane: Lane,
  target: LaneTarget,
  onMeasured: (event: BenchEvent, latencyMs: number) => void,
): Promise<LaneConsumer> {
  let warming: (() => void) | undefined;
  const consumer = await target.consume((event) => {
    const latency = performance.now() - event.sentAt;
    if (event.seq >= 0) onMeasured(event, latency);
    else warming?.();
  });
  try {
    for (let i = 1; i <= WARM_UP_EVENTS; i++) {
      const arrived = new Promise<void>((resolve) => {
        warming = resolve;
      });
      await target.publish(benchEvent(-i));
      await within(arrived, TIMEOUT_MS, `${lane.name} warm-up`);
    }
  } catch (error) {
    await consumer.stop();
    throw error;
  }
  return consumer;
}

/** `count` events at `rate` per second; the latency of each. */
async function e2eLatency(lane: Lane, name: string, count: number, rate: number): Promise<number[]> {
  const target = await lane.prepare(name);
  const latencies: number[] = [];
  const arrived = countdown(count, TIMEOUT_MS, `${lane.name} ${name}`);
  const consumer = await listen(lane, target, (_, latency) => {
    latencies.push(latency);
    arrived.hit();
  });
  try {
    await paced(count, rate, (seq) => target.publish(benchEvent(seq)));
    await arrived.done;
  } finally {
    await consumer.stop();
  }
  return latencies;
}

/** `count` events, each published once the one before has reached the handler. */
async function serialLatency(lane: Lane, name: string, count: number): Promise<number[]> {
  const target = await lane.prepare(name);
  const latencies: number[] = [];
  let waiting: { seq: number; arrived: () => void } | undefined;
  const consumer = await listen(lane, target, (event, latency) => {
    if (event.seq !== waiting?.seq) return;
    latencies.push(latency);
    waiting.arrived();
  });
  try {
    for (let seq = 0; seq < count; seq++) {
      const arrived = new Promise<void>((resolve) => {
        waiting = { seq, arrived: resolve };
      });
      await target.publish(benchEvent(seq));
      await within(arrived, TIMEOUT_MS, `${lane.name} ${name} event ${seq}`);
    }
  } finally {
    await consumer.stop();
  }
  return latencies;
}

/** Per lane, what every measured round gave. */
interface Rounds {
  readonly publish: number[];
  readonly consume: number[];
  readonly batch: number[];
  readonly e2e: number[][];
  readonly serial: number[][];
}

/**
 * Runs every scenario on every lane of `bench` and returns a row per scenario and lane: the median
 * of the rounds. The median, not the best round: on a machine shared with other work the best round
 * is whichever lane happened to get a quiet moment, while the median of alternating rounds gives
 * every lane the same mix of quiet and busy ones.
 *
 * @example
 * ```ts
 * const rows = await runBroker(
 *   { broker: 'nats', e2eRate: 500, raw: [rawLane(id)], baseline: 'nats.js', tidings: createTidingsLanes(settings) },
 *   { messages: 20_000, quick: false },
 * );
 * ```
 */
export async function runBroker(bench: BrokerBench, options: DriverOptions): Promise<BenchResult[]> {
  const rounds = options.rounds ?? (options.quick ? 1 : 5);
  const e2eSeconds = options.e2eSeconds ?? (options.quick ? 1 : 10);
  const serialSamples = options.serialSamples ?? (options.quick ? 50 : 500);
  const messages = Math.max(2, Math.floor(options.messages));
  const baseline = bench.raw.find((lane) => lane.name === bench.baseline);
  if (baseline === undefined) throw new Error(`${bench.broker}: no raw lane is named "${bench.baseline}"`);
  const lanes: readonly Lane[] = [...bench.raw, bench.tidings.default, bench.tidings.tuned];
  const names = new Set(lanes.map((lane) => `${lane.impl}/${lane.name}`));
  if (names.size !== lanes.length) throw new Error(`${bench.broker}: two lanes share a name`);
  const latencyLanes: readonly Lane[] = [baseline, bench.tidings.tuned];
  const measured = new Map<Lane, Rounds>(
    lanes.map((lane) => [lane, { publish: [], consume: [], batch: [], e2e: [], serial: [] }]),
  );
  const of = (lane: Lane): Rounds => measured.get(lane)!;

  try {
    for (const lane of lanes) await lane.open();
    // Warm connections, the JIT and the broker's files up on every path before any figure counts.
    for (const lane of lanes) {
      await throughput(lane, 'warm', Math.min(1_000, messages));
      if (latencyLanes.includes(lane)) await serialLatency(lane, 'warm-serial', 20);
    }
    for (let round = 0; round < rounds; round++) {
      for (const lane of lanes) {
        const { publish, consume, batch } = await throughput(lane, `throughput-${round}`, messages);
        of(lane).publish.push(publish);
        of(lane).consume.push(consume);
        if (batch !== undefined) of(lane).batch.push(batch);
      }
    }
    const slowest = Math.min(...latencyLanes.flatMap((lane) => [...of(lane).publish, ...of(lane).consume]));
    const rate = Math.max(1, Math.floor(Math.min(bench.e2eRate, slowest / 4)));
    const e2eCount = Math.max(1, Math.round(rate * e2eSeconds));
    for (let round = 0; round < rounds; round++) {
      for (const lane of latencyLanes)
        of(lane).e2e.push(await e2eLatency(lane, `e2e-${round}`, e2eCount, rate));
      for (const lane of latencyLanes)
        of(lane).serial.push(await serialLatency(lane, `serial-${round}`, serialSamples));
    }
    return lanes.flatMap((lane) => {
      const key = (scenario: string): RowKey => ({
        scenario,
        broker: bench.broker,
        impl: lane.impl,
        lane: lane.name,
        ...(lane.impl === 'tidings' ? { baseline: bench.baseline } : {}),
        messageBytes: MESSAGE_BYTES,
      });
      const mine = of(lane);
      return [
        throughputRow(key('publish'), messages, mine.publish),
        throughputRow(key('consume'), messages, mine.consume),
        ...(mine.batch.length > 0 ? [throughputRow(key('consume-batch'), messages, mine.batch)] : []),
        ...(latencyLanes.includes(lane)
          ? [latencyRow(key('e2e-latency'), mine.e2e, rate), latencyRow(key('serial-latency'), mine.serial)]
          : []),
      ];
    });
  } finally {
    // One after the other, then the sweep: a group cannot be deleted while a lane still has members in it.
    for (const step of [...lanes.map((lane) => () => lane.close()), bench.cleanup]) {
      await step?.().catch((error: unknown) => console.error(`bench: ${bench.broker} cleanup failed`, error));
    }
  }
}
