import {
  type AdapterSubscription,
  attemptOf,
  type CloseOptions,
  ConnectionError,
  type DeadLetterSettlement,
  type IncomingRecord,
  isSettlement,
  KeyedDispatcher,
  RETRY_NOW,
  type RecordHandler,
  type Settlement,
  type SettlementObserver,
  type SubscribeSpec,
  type SubscriptionState,
  toError,
  whenAborted,
} from '@tidings/core/adapter';
import type { Msg, NatsConnection, Subscription } from 'nats';
import { fromNatsHeaders } from '../codec';
import type { Link } from '../connection';
import { settlementBackoff } from '../dead-letters';
import { isTooLarge } from '../errors';
import { coreSubject } from '../subjects';

/** What a core subscription needs from its adapter. */
export interface CoreContext {
  readonly link: Link;
  readonly nc: NatsConnection;
  readonly prefix: string;
  readonly maxBufferedRecords: number;
  /** Makes sure the server has the subscription's interest before `subscribe` resolves. */
  confirm(): Promise<void>;
  /** Publishes a dead letter (fitted, `minimal` after a refusal for its size); resolves with what was cut. */
  publishDeadLetter(
    record: IncomingRecord,
    settlement: DeadLetterSettlement,
    minimal: boolean,
  ): Promise<readonly ('body' | 'headers')[]>;
}

/** A record received, and how many times this process has handed it to the handler. */
interface Received {
  readonly record: IncomingRecord;
  /** Core NATS counts nothing: the deliveries of this copy are the process's own. */
  readonly deliveries: number;
}

/**
 * One subscription on core NATS: a queue-group subscription per topic (the group's members share
 * the records), a buffer bounded by `maxBufferedRecords`, the handler run with the concurrency
 * limit. Retries wait in this process and run again here; whatever this process holds when it
 * stops, or drops when its buffer is full, is gone: core NATS is at-most-once.
 */
export class CoreSubscription implements AdapterSubscription {
  private subs: Subscription[] = [];
  private readonly work: KeyedDispatcher<Received>;
  private readonly retries = new Set<NodeJS.Timeout>();
  /** Stops the waits of dead letters that are tried again, at a close. */
  private readonly waits = new Set<() => void>();
  private closing: Promise<void> | undefined;
  private closed = false;
  private error: Error | undefined;
  private received = 0;
  /** Records dropped because the buffer was full. */
  dropped = 0;

  constructor(
    private readonly ctx: CoreContext,
    private readonly spec: SubscribeSpec,
    private readonly handler: RecordHandler,
    private readonly observer: SettlementObserver | undefined,
    private readonly onClosed: (subscription: CoreSubscription) => void,
  ) {
    // Core NATS orders nothing: the dispatcher only limits concurrency.
    this.work = new KeyedDispatcher<Received>({
      concurrency: spec.concurrency,
      ordering: 'none',
      keyOf: () => undefined,
      run: (received) => this.run(received),
    });
  }

  get state(): SubscriptionState {
    if (this.closed || this.closing !== undefined) return 'closed';
    if (this.work.paused) return 'paused';
    return this.ctx.link.state === 'reconnecting' ? 'reconnecting' : 'running';
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  async start(): Promise<void> {
    for (const topic of this.spec.topics) {
      this.subs.push(
        this.ctx.nc.subscribe(coreSubject(this.ctx.prefix, topic), {
          queue: this.spec.group,
          callback: (error, msg) => this.onMessage(topic, error, msg),
        }),
      );
    }
    await this.ctx.confirm();
  }

  private onMessage(topic: string, error: Error | null, msg: Msg): void {
    if (error !== null) {
      // A permission error from the server, say: shown in health reports, without secrets.
      this.error = this.ctx.link.redactor.error(error);
      return;
    }
    if (this.closing !== undefined) return;
    if (this.work.queued >= this.ctx.maxBufferedRecords) {
      this.dropped++;
      this.error = new ConnectionError(
        `group "${this.spec.group}" dropped ${this.dropped} record(s): ${this.ctx.maxBufferedRecords} were waiting for a handler (maxBufferedRecords)`,
      );
      return;
    }
    const { headers, key } = fromNatsHeaders(msg);
    const record: IncomingRecord = {
      topic,
      key,
      headers,
      body: msg.data,
      attempt: attemptOf(headers, 1),
      position: `${msg.subject}#${++this.received}`,
    };
    this.work.push({ record, deliveries: 1 });
  }

  private async run({ record, deliveries }: Received): Promise<void> {
    let settlement: Settlement;
    try {
      const said: unknown = await this.handler(record);
      settlement = isSettlement(said) ? said : RETRY_NOW;
    } catch {
      settlement = RETRY_NOW;
    }
    if (settlement.type === 'retry') {
      if (this.closing !== undefined) return;
      const timer = setTimeout(() => {
        this.retries.delete(timer);
        if (this.closing !== undefined) return;
        // The retry is the next delivery of the same copy, counted here.
        const next = deliveries + 1;
        this.work.push({ record: { ...record, attempt: attemptOf(record.headers, next) }, deliveries: next });
      }, settlement.delayMs);
      this.retries.add(timer);
    } else if (settlement.type === 'deadLetter') {
      await this.deadLetter(record, settlement);
    }
  }

  /**
   * Publishes the dead letter; a copy the server refuses for its size is sent again minimal, once.
   * One that cannot be published is tried again with a growing pause until it is, or until the
   * subscription closes (nothing is stored on core NATS: the record is then gone, as a record
   * dropped anywhere on core NATS is).
   */
  private async deadLetter(record: IncomingRecord, settlement: DeadLetterSettlement): Promise<void> {
    let minimal = false;
    let failures = 0;
    for (;;) {
      try {
        const reduced = await this.ctx.publishDeadLetter(record, settlement, minimal);
        this.observer?.deadLettered(record, { topic: settlement.topic, reason: settlement.reason, reduced });
        return;
      } catch (thrown) {
        if (!minimal && isTooLarge(thrown)) {
          minimal = true;
          continue;
        }
        const error = toError(thrown);
        this.error = error;
        failures++;
        if (failures === 1) this.observer?.settlementFailed(record, settlement, error);
        if (!(await this.wait(settlementBackoff(failures)))) return;
      }
    }
  }

  /** Resolves true after `ms`, or false at once when the subscription is closing. */
  private wait(ms: number): Promise<boolean> {
    if (this.closing !== undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const stop = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.waits.delete(stop);
        resolve(true);
      }, ms);
      this.waits.add(stop);
    });
  }

  pause(): void {
    if (this.closing === undefined) this.work.pause();
  }

  resume(): void {
    if (this.closing === undefined) this.work.resume();
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.drain(options.signal);
    return this.closing;
  }

  private async drain(signal: AbortSignal | undefined): Promise<void> {
    for (const sub of this.subs) sub.unsubscribe();
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    for (const stop of this.waits) stop();
    this.waits.clear();
    // There is no broker to give received records back to: handle them before closing.
    this.work.resume();
    const idle = this.work.idle();
    await (signal === undefined ? idle : Promise.race([idle, whenAborted(signal)]));
    this.closed = true;
    this.onClosed(this);
  }
}
