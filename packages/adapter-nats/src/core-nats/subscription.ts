import {
  attemptOf,
  ConnectionError,
  type DeadLetterSettlement,
  type IncomingRecord,
} from '@tidings/core/adapter';
import type { Msg, NatsConnection, Subscription } from 'nats';
import { toIncoming } from '../codec';
import type { Link } from '../connection';
import type { Reduced } from '../dead-letters';
import { coreSubject } from '../subjects';
import { NatsSubscription, type SubscriptionParts } from '../subscription';

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
  ): Promise<Reduced>;
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
export class CoreSubscription extends NatsSubscription<Received> {
  private subs: Subscription[] = [];
  private received = 0;
  /** Records dropped because the buffer was full. */
  dropped = 0;

  constructor(
    private readonly ctx: CoreContext,
    parts: SubscriptionParts,
  ) {
    super(ctx.link, parts);
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
      this.report(error);
      return;
    }
    if (this.isClosing) return;
    if (this.work.queued >= this.ctx.maxBufferedRecords) {
      this.dropped++;
      this.report(
        new ConnectionError(
          `group "${this.spec.group}" dropped ${this.dropped} record(s): ${this.ctx.maxBufferedRecords} were waiting for a handler (maxBufferedRecords)`,
        ),
      );
      return;
    }
    const position = `${msg.subject}#${++this.received}`;
    this.work.push({ record: toIncoming(msg, msg.data, { topic, position, deliveries: 1 }), deliveries: 1 });
  }

  protected async run({ record, deliveries }: Received): Promise<void> {
    const settlement = await this.handle(record);
    if (settlement.type === 'retry') {
      // The retry is the next delivery of the same copy, counted here; it waits without holding a
      // handler's place, and a close forgets it.
      void this.wait(settlement.delayMs).then((due) => {
        if (!due) return;
        const next = deliveries + 1;
        this.work.push({ record: { ...record, attempt: attemptOf(record.headers, next) }, deliveries: next });
      });
    } else if (settlement.type === 'deadLetter') {
      // Nothing is stored on core NATS: a dead letter given up at a close is gone, as a record
      // dropped anywhere on core NATS is.
      await this.deadLetter(record, settlement, (minimal) =>
        this.ctx.publishDeadLetter(record, settlement, minimal),
      );
    }
  }

  protected async drain(signal: AbortSignal | undefined): Promise<void> {
    for (const sub of this.subs) sub.unsubscribe();
    this.stopWaits();
    // There is no broker to give received records back to: handle them before closing.
    this.work.resume();
    await this.idle(signal);
  }
}
