// One driver for every broker: a broker file supplies two lanes, its raw client and Tidings, and
// the driver measures both the same way, round by round, alternating raw and Tidings so that noise
// from the rest of the machine hits both alike.
//
//   publish         `messages` events, IN_FLIGHT publishes in flight, until every one is confirmed
//   consume         the backlog that publish left, drained by a consumer started afterwards; timed
//                   from the first delivery to the last, so that joining a group (seconds on Kafka,
//                   and done differently by each client) is not counted as consuming
//   e2e-latency     events sent at a fixed rate well below saturation (see e2eRate), each one's
//                   latency the handler's time minus its publish's start (carried in the event)
//   serial-latency  one event in flight: publish, wait for the handler, publish the next
import type { BenchEvent } from './event';
import { benchEvent, MESSAGE_BYTES } from './event';
import { bounded, countdown, paced, within } from './load';
import { type BenchOptions, type BenchResult, type Impl, latencyRow, throughputRow } from './result';

/** What consumes a target; `stop` leaves it (the target itself stays until the lane closes). */
export interface LaneConsumer {
  stop(): Promise<void>;
}

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
}

/** One way of talking to a broker: its raw client, or Tidings. */
export interface Lane<TImpl extends Impl = Impl> {
  readonly impl: TImpl;
  /** Connects; called once, before any scenario. */
  open(): Promise<void>;
  /** Makes a target for scenario `name`, unique within the lane, that no other scenario uses. */
  prepare(name: string): Promise<LaneTarget>;
  /** Disconnects and deletes every topic, queue, stream, group and key the lane made. */
  close(): Promise<void>;
}

/** A broker's benchmark: its two lanes and its fixed end-to-end rate. */
export interface BrokerBench {
  readonly broker: string;
  readonly raw: Lane<'raw'>;
  readonly tidings: Lane<'tidings'>;
  /**
   * Events per second of the e2e-latency scenario. The driver lowers it to a quarter of the slowest
   * publish or consume rate it measured on either lane, so that on a slower machine it still
   * stays below saturation and measures latency, not a queue.
   */
  readonly e2eRate: number;
  /**
   * Deletes what both lanes left under the run's prefix, after both have closed; for brokers where
   * one sweep by name is simpler than each lane keeping a list.
   */
  readonly cleanup?: () => Promise<void>;
}

/** Settings of {@link runBroker}; each has a default for the full and the quick run. */
export interface DriverOptions extends BenchOptions {
  /**
   * Measured rounds of each lane. Default 5, quick 1. (A full run took under 7 minutes with 3 rounds
   * on the project's 2-core machine; 5 keeps it near 11 and steadies the medians.) A quick run is a
   * smoke run whose figures CI prints and nobody compares: it needs every scenario of every lane
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

/** What one round of one lane measured. */
interface Throughput {
  readonly publish: number;
  readonly consume: number;
}

/** Publish `messages` events with IN_FLIGHT in flight, then drain them with a new consumer. */
async function throughput(lane: Lane, name: string, messages: number): Promise<Throughput> {
  const target = await lane.prepare(name);
  const started = performance.now();
  await bounded(messages, IN_FLIGHT, (seq) => target.publish(benchEvent(seq)));
  const publish = messages / ((performance.now() - started) / 1000);

  let first = 0;
  let last = 0;
  const drained = countdown(messages, TIMEOUT_MS, `${lane.impl} ${name} consume`);
  const consumer = await target.consume(() => {
    last = performance.now();
    if (drained.count === 0) first = last;
    drained.hit();
  });
  try {
    await drained.done;
  } finally {
    await consumer.stop();
  }
  // One delivery opens the clock: the rest came in (last − first).
  return { publish, consume: (messages - 1) / (Math.max(last - first, 0.001) / 1000) };
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
      await within(arrived, TIMEOUT_MS, `${lane.impl} warm-up`);
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
  const arrived = countdown(count, TIMEOUT_MS, `${lane.impl} ${name}`);
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
      await within(arrived, TIMEOUT_MS, `${lane.impl} ${name} event ${seq}`);
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
  readonly e2e: number[][];
  readonly serial: number[][];
}

/**
 * Runs every scenario on both lanes of `bench` and returns a row per scenario and lane: the median
 * of the rounds. The median, not the best round: on a machine shared with other work the best round
 * is whichever lane happened to get a quiet moment, while the median of alternating rounds gives
 * both lanes the same mix of quiet and busy ones.
 *
 * @example
 * ```ts
 * const rows = await runBroker({ broker: 'nats', e2eRate: 500, raw: rawLane(id), tidings }, { messages: 20_000, quick: false });
 * ```
 */
export async function runBroker(bench: BrokerBench, options: DriverOptions): Promise<BenchResult[]> {
  const rounds = options.rounds ?? (options.quick ? 1 : 5);
  const e2eSeconds = options.e2eSeconds ?? (options.quick ? 1 : 10);
  const serialSamples = options.serialSamples ?? (options.quick ? 50 : 500);
  const messages = Math.max(2, Math.floor(options.messages));
  const lanes = [bench.raw, bench.tidings] as const;
  const measured = new Map<Impl, Rounds>(
    lanes.map((lane) => [lane.impl, { publish: [], consume: [], e2e: [], serial: [] }]),
  );
  const of = (lane: Lane): Rounds => measured.get(lane.impl)!;

  try {
    for (const lane of lanes) await lane.open();
    // Warm connections, the JIT and the broker's files up on both paths before any figure counts.
    for (const lane of lanes) {
      await throughput(lane, 'warm', Math.min(1_000, messages));
      await serialLatency(lane, 'warm-serial', 20);
    }
    for (let round = 0; round < rounds; round++) {
      for (const lane of lanes) {
        const { publish, consume } = await throughput(lane, `throughput-${round}`, messages);
        of(lane).publish.push(publish);
        of(lane).consume.push(consume);
      }
    }
    const slowest = Math.min(...lanes.flatMap((lane) => [...of(lane).publish, ...of(lane).consume]));
    const rate = Math.max(1, Math.floor(Math.min(bench.e2eRate, slowest / 4)));
    const e2eCount = Math.max(1, Math.round(rate * e2eSeconds));
    for (let round = 0; round < rounds; round++) {
      for (const lane of lanes) of(lane).e2e.push(await e2eLatency(lane, `e2e-${round}`, e2eCount, rate));
      for (const lane of lanes)
        of(lane).serial.push(await serialLatency(lane, `serial-${round}`, serialSamples));
    }
    return lanes.flatMap((lane) => {
      const key = (scenario: string) =>
        ({ scenario, broker: bench.broker, impl: lane.impl, messageBytes: MESSAGE_BYTES }) as const;
      const mine = of(lane);
      return [
        throughputRow(key('publish'), messages, mine.publish),
        throughputRow(key('consume'), messages, mine.consume),
        latencyRow(key('e2e-latency'), mine.e2e, rate),
        latencyRow(key('serial-latency'), mine.serial),
      ];
    });
  } finally {
    // One after the other, then the sweep: a group cannot be deleted while a lane still has members in it.
    for (const step of [...lanes.map((lane) => () => lane.close()), bench.cleanup]) {
      await step?.().catch((error: unknown) => console.error(`bench: ${bench.broker} cleanup failed`, error));
    }
  }
}
