import type {
  IncomingRecord,
  LandedDeadLetter,
  RecordHandler,
  Settlement,
  SettlementObserver,
} from '@tidings/core/adapter';

/** One delivery seen by a collector. */
export interface Delivery {
  readonly record: IncomingRecord;
  /** Which subscriber received it (the label given to `handler`). */
  readonly member: string;
  /** `performance.now()` at delivery. */
  readonly at: number;
}

/** Decides the settlement of a delivery; may take its time. */
export type Decide = (record: IncomingRecord, delivery: Delivery) => Settlement | Promise<Settlement>;

export const ACK: Settlement = Object.freeze({ type: 'ack' });

interface Waiter {
  readonly done: () => boolean;
  readonly resolve: () => void;
}

/**
 * Records deliveries across any number of subscribers and lets a scenario await a condition on
 * them, woken by each delivery rather than by polling or sleeping.
 */
export class Collector {
  readonly deliveries: Delivery[] = [];
  private waiters: Waiter[] = [];

  /** A record handler for one subscriber that records each delivery, then settles it by `decide`. */
  handler(member: string, decide: Decide = () => ACK): RecordHandler {
    return async (record) => {
      const delivery: Delivery = { record, member, at: performance.now() };
      this.deliveries.push(delivery);
      this.wake();
      const settlement = await decide(record, delivery);
      // Again after deciding: a condition may depend on what `decide` recorded.
      this.wake();
      return settlement;
    };
  }

  /** Deliveries whose body, read as UTF-8, is `text`. */
  ofBody(text: string): Delivery[] {
    return this.deliveries.filter((d) => bodyText(d.record) === text);
  }

  /** Distinct bodies seen (UTF-8). */
  distinctBodies(): Set<string> {
    return new Set(this.deliveries.map((d) => bodyText(d.record)));
  }

  /**
   * Resolves once `condition` holds; rejects after `timeoutMs` with `describe()` in the message, so
   * a failure says what was missing.
   */
  until(condition: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms: ${describe()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        done: condition,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves once `count` distinct bodies have been delivered. */
  untilDistinct(count: number, timeoutMs: number): Promise<void> {
    return this.until(
      () => this.distinctBodies().size >= count,
      timeoutMs,
      () => `${this.distinctBodies().size} of ${count} distinct messages delivered`,
    );
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.done()) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }
}

export function bodyText(record: { readonly body: Uint8Array }): string {
  return Buffer.from(record.body.buffer, record.body.byteOffset, record.body.byteLength).toString('utf8');
}

/** A promise with its resolver, for handlers that wait on the scenario. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Resolves after `ms`. Scenarios use it only to check that something does NOT happen within a
 * window (a delayed retry must not arrive early, a drained message must not come back).
 */
export function quietPeriod(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A settlement observer that records what the adapter reports (dead letters stored, settlements
 * that failed) and lets a scenario wait on it.
 */
export class ObserverLog implements SettlementObserver {
  readonly landed: { readonly record: IncomingRecord; readonly landed: LandedDeadLetter }[] = [];
  readonly failed: {
    readonly record: IncomingRecord;
    readonly settlement: Settlement;
    readonly error: Error;
  }[] = [];
  private waiters: (() => void)[] = [];

  deadLettered(record: IncomingRecord, landed: LandedDeadLetter): void {
    this.landed.push({ record, landed });
    for (const wake of this.waiters.splice(0)) wake();
  }

  settlementFailed(record: IncomingRecord, settlement: Settlement, error: Error): void {
    this.failed.push({ record, settlement, error });
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once `condition` holds; rejects after `timeoutMs`. */
  async until(condition: (log: ObserverLog) => boolean, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!condition(this)) {
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `the adapter reported ${this.landed.length} dead letters stored and ${this.failed.length} failed settlements; expected more`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/**
 * Resolves once `condition` holds, checking it every 20 ms; rejects after `timeoutMs` with
 * `describe()` in the message. For conditions no collector is woken by (a bus handler's list).
 */
export async function eventually(
  condition: () => boolean,
  timeoutMs: number,
  describe: () => string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
