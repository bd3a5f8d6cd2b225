import {
  type AdapterSubscription,
  type CloseOptions,
  type ConsumerLag,
  type ConsumerLagReporter,
  type DeadLetterSettlement,
  type IncomingRecord,
  RETRY_HEADERS,
  type RecordHandler,
  type Settlement,
  type SubscribeSpec,
  type SubscriptionState,
  toError,
} from '@tidings/core/adapter';
import type { JetStreamManager, Msg, NatsConnection } from 'nats';
import { isTidings } from '../errors';
import { fromNatsHeaders } from '../headers';
import type { Link, LinkListener } from '../link';
import { PausableDispatcher } from '../pausable';
import { acks, type DeliveryInfo, parseAckSubject } from './acks';
import { type ConsumerSettings, checkOrderingConflict, ensureConsumers, planConsumers } from './consumers';
import { PULL_HEARTBEAT_MS, Puller, type PullerHost } from './puller';

/** What a subscription needs from its adapter. */
export interface JetStreamContext {
  readonly link: Link;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly consumers: ConsumerSettings;
  readonly inboxPrefix: string | undefined;
  readonly flushTimeoutMs: number;
  /** Publishes the dead letter of `record` and waits for the stream's ack. */
  publishDeadLetter(record: IncomingRecord, settlement: DeadLetterSettlement, msgId: string): Promise<void>;
}

/** A record the subscription holds: delivered by the server and not yet settled or given back. */
interface Held {
  readonly id: string;
  readonly msg: Msg;
  readonly puller: Puller;
  readonly record: IncomingRecord;
  readonly streamSeq: number;
  /** When the server last heard that this record is being worked on. */
  touchedAt: number;
  /** Settled or given back: later verdicts about it are ignored. */
  done: boolean;
}

const RETRY_NOW: Settlement = Object.freeze({ type: 'retry', delayMs: 0, headers: Object.freeze({}) });
/** A dead letter that could not be published comes back after this long, to be dead-lettered again. */
const DEAD_LETTER_RETRY_MS = 2_000;
/** How long a close waits for the server to forget its pull requests before giving records back. */
const FORGET_WAIT_MS = 1_000;

/**
 * One subscription on JetStream: pulls from the durable consumers of its group (one per topic, or
 * one per topic and partition when ordered), runs the handler with the concurrency limit, maps
 * each settlement to an ack, a delayed nak, or a dead letter followed by a term, and keeps the
 * records it holds alive with progress acks so a slow handler is not redelivered while it runs.
 */
export class JetStreamSubscription
  implements AdapterSubscription, ConsumerLagReporter, PullerHost, LinkListener
{
  private readonly held = new Map<string, Held>();
  private readonly work: PausableDispatcher<Held>;
  private pullers: Puller[] = [];
  private closing: Promise<void> | undefined;
  private closed = false;
  private failed = false;
  private error: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;
  private readonly progressEveryMs: number;

  constructor(
    private readonly ctx: JetStreamContext,
    private readonly spec: SubscribeSpec,
    private readonly handler: RecordHandler,
    private readonly onClosed: (subscription: JetStreamSubscription) => void,
  ) {
    this.work = new PausableDispatcher(spec.concurrency, (held) => this.run(held));
    this.progressEveryMs = ctx.consumers.ackWaitMs / 3;
  }

  get state(): SubscriptionState {
    if (this.closed || this.closing !== undefined) return 'closed';
    if (this.work.paused) return 'paused';
    if (this.ctx.link.state === 'reconnecting') return 'reconnecting';
    return this.failed ? 'failed' : 'running';
  }

  get lastError(): Error | undefined {
    return this.error;
  }

  /**
   * Records of each topic the group has not settled: those its durable consumers have not
   * delivered yet (`num_pending`) plus those delivered and not acknowledged (`num_ack_pending`,
   * which includes retries waiting for their delay), summed over a topic's partition consumers.
   * One consumer info request per consumer of the subscription.
   */
  async lag(): Promise<ConsumerLag[]> {
    const { jsm, consumers } = this.ctx;
    const owed = await Promise.all(
      this.pullers.map(async ({ target }) => {
        const info = await jsm.consumers.info(consumers.stream, target.consumer);
        return { topic: target.topic, messages: info.num_pending + info.num_ack_pending };
      }),
    );
    const totals = new Map<string, number>();
    for (const { topic, messages } of owed) totals.set(topic, (totals.get(topic) ?? 0) + messages);
    return [...totals].map(([topic, messages]) => ({ topic, messages }));
  }

  get wanting(): boolean {
    return !this.work.paused && this.closing === undefined;
  }

  /** Creates or checks the group's consumers, then starts pulling. */
  async start(): Promise<void> {
    const { jsm, consumers } = this.ctx;
    await Promise.all(
      this.spec.topics.map((topic) => checkOrderingConflict(jsm, this.spec, topic, consumers.stream)),
    );
    const plans = planConsumers(this.spec, consumers);
    await ensureConsumers(jsm, plans, this.spec, consumers);
    if (this.closing !== undefined) return;
    const share = Math.max(1, Math.ceil(this.spec.concurrency / plans.length));
    this.pullers = plans.map(
      (plan) =>
        new Puller(
          this.ctx.nc,
          { stream: consumers.stream, consumer: plan.name, topic: plan.topic },
          share,
          this,
          this.ctx.inboxPrefix,
        ),
    );
    this.unlisten = this.ctx.link.listen(this);
    const tickMs = Math.max(50, Math.min(this.progressEveryMs / 2, PULL_HEARTBEAT_MS));
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
    for (const puller of this.pullers) puller.start();
  }

  deliver(msg: Msg, puller: Puller): void {
    const info = parseAckSubject(msg.reply);
    if (info === undefined) {
      puller.release();
      return;
    }
    if (this.closing !== undefined) {
      // Arrived while closing: straight back to the group.
      acks.nak(this.ctx.nc, msg, 0);
      puller.release();
      return;
    }
    this.failed = false;
    const id = `${puller.target.consumer}:${info.streamSeq}`;
    if (this.held.has(id)) {
      // Redelivered while a handler still has it (the progress acks came too late): one copy runs.
      puller.release();
      return;
    }
    const held: Held = {
      id,
      msg,
      puller,
      record: toRecord(msg, puller.target.topic, info),
      streamSeq: info.streamSeq,
      touchedAt: Date.now(),
      done: false,
    };
    this.held.set(id, held);
    this.work.push(held);
  }

  report(error: Error, fatal: boolean): void {
    // Health reports show it: whatever the client said, without the connection's secrets.
    this.error = isTidings(error) ? error : this.ctx.link.redactor.error(error);
    if (fatal) this.failed = true;
  }

  onReconnect(): void {
    for (const puller of this.pullers) puller.renew();
  }

  pause(): void {
    if (this.closing === undefined) this.work.pause();
  }

  resume(): void {
    if (this.closing !== undefined || !this.work.paused) return;
    this.work.resume();
    for (const puller of this.pullers) puller.pull();
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.drain(options.signal);
    return this.closing;
  }

  private async drain(signal: AbortSignal | undefined): Promise<void> {
    for (const puller of this.pullers) puller.stop();
    await this.forgetPullRequests();
    // Records that no handler has started go back to the group at once.
    this.giveBack(this.work.takeWaiting());
    await this.work.idle(signal);
    // Handlers still running after an abort: their records go to the next member now, rather
    // than after ack_wait.
    this.giveBack([...this.held.values()]);
    clearInterval(this.timer);
    this.unlisten?.();
    await this.ctx.link.flush(this.ctx.flushTimeoutMs);
    this.closed = true;
    this.onClosed(this);
  }

  /**
   * The server keeps this subscription's pull requests after their inbox is gone (it cannot be
   * told to drop them) until it tries to deliver into one. A record it hands to such a request is
   * taken back, and on NATS 2.9 comes back to the next member without its delivery counted: a
   * record given back below, or another member's retry, would lose a count. A consumer info
   * request makes the server forget them at once.
   */
  private async forgetPullRequests(): Promise<void> {
    const { jsm, consumers } = this.ctx;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(
        this.pullers.map((puller) => jsm.consumers.info(consumers.stream, puller.target.consumer)),
      ),
      new Promise((resolve) => {
        timer = setTimeout(resolve, FORGET_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Naks records so that the group's next member gets them now. */
  private giveBack(records: readonly Held[]): void {
    for (const held of records) {
      if (held.done) continue;
      this.finish(held);
      acks.nak(this.ctx.nc, held.msg, 0);
    }
  }

  private async run(held: Held): Promise<void> {
    let settlement: Settlement;
    try {
      settlement = await this.handler(held.record);
    } catch {
      settlement = RETRY_NOW;
    }
    if (held.done) return;
    const { nc } = this.ctx;
    switch (settlement.type) {
      case 'ack':
        acks.ack(nc, held.msg);
        break;
      case 'retry':
        acks.nak(nc, held.msg, settlement.delayMs);
        break;
      case 'deadLetter':
        try {
          await this.ctx.publishDeadLetter(held.record, settlement, this.deadLetterId(held, settlement));
          // Terminated only once the dead letter is stored: a crash in between duplicates it
          // (and the duplicate window drops the repeat), it never loses it.
          if (!held.done) acks.term(nc, held.msg);
        } catch (error) {
          this.report(toError(error), false);
          if (!held.done) acks.nak(nc, held.msg, DEAD_LETTER_RETRY_MS);
        }
        break;
    }
    this.finish(held);
  }

  /** One dead letter per record, group and destination, however often it is dead-lettered. */
  private deadLetterId(held: Held, settlement: DeadLetterSettlement): string {
    return `${settlement.topic} ${held.streamSeq} ${encodeURIComponent(this.spec.group)}`;
  }

  private finish(held: Held): void {
    if (held.done) return;
    held.done = true;
    this.held.delete(held.id);
    held.puller.release();
  }

  private tick(): void {
    const now = Date.now();
    for (const held of this.held.values()) {
      if (now - held.touchedAt >= this.progressEveryMs) {
        acks.working(this.ctx.nc, held.msg);
        held.touchedAt = now;
      }
    }
    for (const puller of this.pullers) puller.checkSilence(now);
  }
}

/** Builds the record the core sees from a JetStream message. */
function toRecord(msg: Msg, topic: string, info: DeliveryInfo): IncomingRecord {
  const { headers, key } = fromNatsHeaders(msg);
  // A record re-published by a retry elsewhere starts the server's count again; its header says
  // which attempt its first delivery here is.
  const first = Number(headers[RETRY_HEADERS.attempt]);
  const attempt = info.deliveryCount + (Number.isSafeInteger(first) && first > 1 ? first - 1 : 0);
  const partition = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
  return {
    topic,
    key,
    headers,
    body: msg.data,
    attempt,
    position: `${topic}/${partition}@${info.streamSeq}`,
  };
}
