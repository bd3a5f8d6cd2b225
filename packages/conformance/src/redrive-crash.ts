import { createOperator, defaultDeadLetterTopic } from '@tidings/core';
import type { BrokerAdapter, IncomingRecord, Settlement, SubscribeSpec } from '@tidings/core/adapter';
import { expect } from 'vitest';
import { ACK, Collector, ObserverLog, quietPeriod } from './collector';
import { publishInBatches, records } from './fixture';
import type { ProcessExit } from './fixture-process';

/** What {@link RedriveCrashOptions.startRedrive} is asked to redrive. */
export interface RedriveRun {
  readonly topic: string;
  /** The group whose dead letters are redriven (the failed group). */
  readonly group: string;
  /** The rate the redrive must keep, so that the kill falls in its middle. */
  readonly ratePerSecond: number;
  /** 1 for the run that is killed, 2 for the run that finishes. */
  readonly run: 1 | 2;
}

/**
 * An operator's redrive running in a process of its own (see `startFixtureProcess`). It prints
 * `READY` once connected, then runs `createOperator({ adapter }).redrive(...)`, then prints
 * `DONE`; a line starting with `REDRIVEN` before `DONE` is shown in the timing line.
 */
export interface RedriveProcess {
  /** Resolves once the process printed `text`; rejects when it ends first or after `timeoutMs`. */
  line(text: string, timeoutMs: number): Promise<void>;
  /** Kills it with SIGKILL and resolves once it is gone. */
  kill(): Promise<ProcessExit>;
  /** Resolves once it has ended. */
  readonly exited: Promise<ProcessExit>;
  /** The lines it printed, if kept. */
  readonly lines?: readonly string[];
}

/** What differs from one adapter's redrive crash test to another's. */
export interface RedriveCrashOptions {
  /** The test's adapter; the test closes it (and removes what it made) after the run. */
  readonly adapter: BrokerAdapter;
  readonly topic: string;
  /** The group that dead-letters every record, then has its dead letters redriven. */
  readonly group: string;
  /** A second group on the topic, which must receive nothing from the redrive. */
  readonly otherGroup: string;
  /** Starts the redrive process; called twice, for the run that is killed and the one that ends. */
  readonly startRedrive: (run: RedriveRun) => RedriveProcess;
  /** How many dead letters to make and redrive. */
  readonly letters: number;
  /** The redrive's rate; by default about four seconds for all letters, at least 250 a second. */
  readonly ratePerSecond?: number;
  /**
   * Over the subscribe spec of both groups: `concurrency: 32, prefetch: concurrency, ordering:
   * 'none', startFrom: 'earliest', maxAttempts: 5, handlerTimeoutMs: 5_000`.
   */
  readonly spec?: Partial<Omit<SubscribeSpec, 'group' | 'topics'>>;
  /** The header carrying each record's event id, which the idempotent handler keys on. Default `ce_id`. */
  readonly idHeader?: string;
  /**
   * Deliveries beyond one per dead letter that the adapter's redrive may make when killed: 0 (the
   * default) when a letter's copy and its removal cannot be split by a kill.
   */
  readonly maxDuplicates?: number;
  /** Records per publish. Default 500. */
  readonly publishBatch?: number;
  /** Safety net of each wait; the second run may take twice as long. Default 120,000 ms. */
  readonly timeoutMs?: number;
  /** Words after "redrive of N" in the timing line (for example the redrive's batch size). */
  readonly label?: string;
}

/** What {@link runRedriveCrash} measured. */
export interface RedriveCrashReport {
  readonly letters: number;
  readonly ratePerSecond: number;
  /** Letters handled by the failed group when the first run was killed. */
  readonly handledAtKill: number;
  /** Letters still stored after the kill. */
  readonly leftAtKill: number;
  /** Time to browse the letters left after the kill. */
  readonly browseMs: number;
  /** From the first run's start until every letter was handled. */
  readonly tookMs: number;
  /** The second run, process start included. */
  readonly secondRunMs: number;
  /** Deliveries to the failed group after it stopped failing. */
  readonly deliveries: number;
  /** `deliveries` beyond one per letter. */
  readonly duplicates: number;
  /** The second run's `REDRIVEN ...` line, when it printed one. */
  readonly secondRunReport: string | undefined;
}

const REASON = 'Error: downstream was broken';

/**
 * The redrive crash test: a redrive killed with SIGKILL half-way and run again ends with each dead
 * letter handled by the failed group (by an idempotent handler: distinct event ids), none by the
 * other group, and the dead-letter store empty.
 *
 * Two groups subscribe to the topic; the failed group dead-letters every record. Once every
 * letter landed and the other group received every record, the failed group stops failing and a
 * redrive starts in a process of its own; it is killed with SIGKILL when half the letters are
 * handled, the letters left are counted with `createOperator().browse`, and a second run redrives
 * the rest. Prints a timing line, and returns what it measured.
 *
 * @example
 * ```ts
 * const script = fileURLToPath(new URL('./fixtures/redrive.ts', import.meta.url));
 * it('ends with each dead letter handled once', async () => {
 *   await runRedriveCrash({
 *     adapter,
 *     topic: 'orders',
 *     group: 'billing',
 *     otherGroup: 'audit',
 *     letters: 1_000,
 *     startRedrive: ({ topic, group, ratePerSecond }) =>
 *       startFixtureProcess(script, { args: [url, topic, group, String(ratePerSecond)] }),
 *   });
 * }, 300_000);
 * ```
 */
export async function runRedriveCrash(options: RedriveCrashOptions): Promise<RedriveCrashReport> {
  const { adapter, topic, group, letters } = options;
  const idHeader = options.idHeader ?? 'ce_id';
  const timeoutMs = options.timeoutMs ?? 120_000;
  const ratePerSecond = options.ratePerSecond ?? Math.max(250, Math.ceil(letters / 4));
  const deadLetterTopic = defaultDeadLetterTopic(topic, group);
  const failing = { value: true };
  // The idempotent handler's effects: one per event id, however often it is delivered.
  const effects = new Set<string>();
  let deliveries = 0;
  const failedSeen = new Collector();
  const otherSeen = new Collector();
  const observer = new ObserverLog();
  const concurrency = options.spec?.concurrency ?? 32;
  const spec = (name: string): SubscribeSpec => ({
    group: name,
    topics: [topic],
    concurrency,
    prefetch: concurrency,
    ordering: 'none',
    startFrom: 'earliest',
    maxAttempts: 5,
    handlerTimeoutMs: 5_000,
    ...options.spec,
  });

  await adapter.subscribe(spec(options.otherGroup), otherSeen.handler('other'));
  await adapter.subscribe(
    spec(group),
    failedSeen.handler('failed', (record: IncomingRecord): Settlement => {
      if (failing.value) {
        return {
          type: 'deadLetter',
          topic: deadLetterTopic,
          reason: REASON,
          headers: { 'tidings-dlq-reason': REASON, 'tidings-dlq-original-position': record.position },
        };
      }
      deliveries++;
      const id = record.headers[idHeader];
      if (id === undefined) throw new Error(`a redriven record lost its ${idHeader} header`);
      effects.add(id);
      return ACK;
    }),
    observer,
  );
  const published = records(topic, 'body', letters, {
    key: (i) => `k-${i % 97}`,
    headers: (i) => ({ [idHeader]: `event-${i}` }),
  });
  await publishInBatches(adapter, published, options.publishBatch ?? 500);
  await observer.until((log) => log.landed.length >= letters, timeoutMs);
  await otherSeen.untilDistinct(letters, timeoutMs);
  const otherBefore = otherSeen.deliveries.length;
  failing.value = false;

  const operator = createOperator({ adapter });
  const stored = async (): Promise<number> => {
    let count = 0;
    for await (const _ of operator.browse({ topic, group }, { pageSize: 1_000 })) count++;
    return count;
  };
  const handled = (count: number, what: string) =>
    failedSeen.until(
      () => effects.size >= count,
      timeoutMs,
      () => `${effects.size} of ${letters} ${what}`,
    );

  let running: RedriveProcess | undefined;
  try {
    const started = performance.now();
    running = options.startRedrive({ topic, group, ratePerSecond, run: 1 });
    await running.line('READY', timeoutMs);
    // A redrive that fails says so (its stderr) rather than leaving the wait to time out; one that
    // ends before half-way is caught below, by the letters left.
    await Promise.race([handled(letters / 2, 'redriven'), running.line('DONE', timeoutMs)]);
    const exit = await running.kill();
    const handledAtKill = effects.size;
    expect(exit.signal, 'the first run was killed, not ended').toBe('SIGKILL');
    const browseStarted = performance.now();
    const leftAtKill = await stored();
    const browseMs = performance.now() - browseStarted;
    expect(leftAtKill, 'the kill fell before the end').toBeGreaterThan(0);

    const secondStarted = performance.now();
    running = options.startRedrive({ topic, group, ratePerSecond, run: 2 });
    await running.line('DONE', 2 * timeoutMs);
    const secondRunMs = performance.now() - secondStarted;
    await handled(letters, 'handled');
    const tookMs = performance.now() - started;
    const secondRunReport = running.lines?.find((line) => line.startsWith('REDRIVEN'));
    const duplicates = deliveries - letters;
    const label = options.label === undefined ? '' : ` ${options.label}`;
    console.log(
      `redrive of ${letters}${label} at ${ratePerSecond}/s (killed at ${handledAtKill} handled, ${leftAtKill} left stored, browsed in ${Math.round(browseMs)} ms): ${Math.round(tookMs)} ms in all, ${Math.round(secondRunMs)} ms for the second run (process start included${secondRunReport === undefined ? '' : `; ${secondRunReport}`}); ${deliveries} deliveries, ${duplicates} duplicates`,
    );

    expect(await stored(), 'dead letters left after the second run').toBe(0);
    expect(effects.size).toBe(letters);
    expect(duplicates).toBeGreaterThanOrEqual(0);
    expect(duplicates, 'deliveries beyond one per letter').toBeLessThanOrEqual(options.maxDuplicates ?? 0);
    await quietPeriod(500);
    expect(otherSeen.deliveries.length, 'deliveries to the other group after the redrive').toBe(otherBefore);
    return {
      letters,
      ratePerSecond,
      handledAtKill,
      leftAtKill,
      browseMs,
      tookMs,
      secondRunMs,
      deliveries,
      duplicates,
      secondRunReport,
    };
  } finally {
    await running?.kill();
  }
}
