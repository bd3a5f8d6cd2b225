import {
  attemptOf,
  type ConsumerLag,
  type ConsumerLagReporter,
  type DeadLetterSettlement,
  type IncomingRecord,
  recordForGroup,
  toError,
} from '@tidings/core/adapter';
import type { JetStreamManager, Msg, MsgHdrs, NatsConnection } from 'nats';
import { toIncoming } from '../codec';
import type { Link, LinkListener } from '../connection';
import type { Reduced } from '../dead-letters';
import { NatsSubscription, type SubscriptionParts } from '../subscription';
import { acks, parseAckSubject } from './acks';
import { fetchGivenUp, type GivenUp, MaxDeliveriesWatch, storedHeaderBlock } from './advisories';
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
  /**
   * Publishes the dead letter of `record` (fitted to the server's limits; `minimal` after the
   * server refused one for its size) and waits for the stream's ack; resolves with what was cut.
   */
  publishDeadLetter(
    record: IncomingRecord,
    settlement: DeadLetterSettlement,
    msgId: string,
    minimal: boolean,
  ): Promise<Reduced>;
}

/** A record the subscription holds: delivered by the server and not yet settled or given back. */
interface Held {
  readonly id: string;
  /**
   * The delivered message, whose reply subject takes the acks; undefined for a record read from
   * the stream after the server gave up on it (nothing to acknowledge any more).
   */
  readonly msg: Msg | undefined;
  /** The puller it came from; undefined for a record taken up on an advisory. */
  readonly puller: Puller | undefined;
  readonly record: IncomingRecord;
  /** The server's count of this copy's deliveries, this one included. */
  readonly deliveries: number;
  readonly streamSeq: number;
  /**
   * The server will not deliver it again (its last delivery, or it gave up on it already): a
   * retry of it runs here, and it is never handed back while the subscription runs.
   */
  readonly last: boolean;
  /** When the server last heard that this record is being worked on. */
  touchedAt: number;
  /** Settled or given back: later verdicts about it are ignored. */
  done: boolean;
}

/** How long a close waits for the server to forget its pull requests before giving records back. */
const FORGET_WAIT_MS = 1_000;

/**
 * One subscription on JetStream: pulls from the durable consumers of its group (one per topic, or
 * one per topic and partition when ordered) up to the prefetch, runs the handler with the
 * concurrency limit, maps each settlement to an ack, a delayed nak, or a dead letter followed by a
 * term, and keeps every record it holds alive with progress acks, so that neither a slow handler
 * nor a record waiting for a free handler is redelivered meanwhile.
 */
export class JetStreamSubscription
  extends NatsSubscription<Held>
  implements ConsumerLagReporter, PullerHost, LinkListener
{
  private readonly held = new Map<string, Held>();
  private pullers: Puller[] = [];
  /** Each consumer's delivery limit (`Infinity` for none), by consumer name. */
  private readonly maxDeliver = new Map<string, number>();
  private readonly watch: MaxDeliveriesWatch;
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;
  private readonly progressEveryMs: number;

  constructor(
    private readonly ctx: JetStreamContext,
    parts: SubscriptionParts,
  ) {
    super(ctx.link, parts);
    this.progressEveryMs = ctx.consumers.ackWaitMs / 3;
    this.watch = new MaxDeliveriesWatch(
      ctx.nc,
      ctx.consumers.stream,
      (givenUp) => {
        void this.takeUp(givenUp);
      },
      // Consuming goes on without the backstop; health reports say it is missing.
      (error) => this.report(error),
    );
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

  alive(): void {
    this.failed = false;
  }

  get wanting(): boolean {
    return !this.work.paused && !this.isClosing;
  }

  /** Creates or checks the group's consumers, then starts pulling. */
  async start(): Promise<void> {
    const { jsm, consumers } = this.ctx;
    await Promise.all(
      this.spec.topics.map((topic) => checkOrderingConflict(jsm, this.spec, topic, consumers.stream)),
    );
    const plans = planConsumers(this.spec, consumers);
    const limits = await ensureConsumers(jsm, plans, this.spec, consumers);
    for (const [i, plan] of plans.entries()) this.maxDeliver.set(plan.name, limits[i]!);
    if (this.isClosing) return;
    this.watch.start(plans.map((plan) => plan.name));
    // Unordered, each consumer may hand over its part of the prefetch, so that the next records
    // are here when a handler finishes; the dispatcher still runs `concurrency` at most. Ordered,
    // a partition's consumer hands out one record at a time whatever is asked.
    const wanted = this.spec.ordering === 'none' ? this.spec.prefetch : this.spec.concurrency;
    const share = Math.max(1, Math.ceil(wanted / plans.length));
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
    if (this.isClosing) {
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
    const record = recordForGroup(
      toIncoming(msg, msg.data, {
        topic: puller.target.topic,
        position: positionOf(puller.target.topic, msg.subject, info.streamSeq),
        deliveries: info.deliveryCount,
      }),
      this.spec.group,
    );
    if (record === undefined) {
      // Redriven for another group of the topic: this group handled the original already.
      acks.ack(this.ctx.nc, msg);
      puller.release();
      return;
    }
    const held: Held = {
      id,
      msg,
      puller,
      record,
      deliveries: info.deliveryCount,
      streamSeq: info.streamSeq,
      last: info.deliveryCount >= (this.maxDeliver.get(puller.target.consumer) ?? Number.POSITIVE_INFINITY),
      touchedAt: Date.now(),
      done: false,
    };
    this.held.set(id, held);
    this.work.push(held);
  }

  /**
   * Takes up a record the server gave up on (a member died holding its last delivery): reads it
   * from the stream and gives it to the core once more, past its last attempt, so that it is
   * dead-lettered rather than left behind.
   */
  private async takeUp(givenUp: GivenUp): Promise<void> {
    if (this.isClosing) return;
    const puller = this.pullers.find((p) => p.target.consumer === givenUp.consumer);
    const id = `${givenUp.consumer}:${givenUp.streamSeq}`;
    if (puller === undefined || this.held.has(id)) return;
    let stored: Awaited<ReturnType<typeof fetchGivenUp>>;
    try {
      stored = await fetchGivenUp(this.ctx.jsm, this.ctx.consumers.stream, givenUp);
    } catch (error) {
      // Gone from the stream (its age or a limit removed it), or the server cannot answer now.
      this.report(toError(error));
      return;
    }
    if (this.isClosing || this.held.has(id)) return;
    const info = { streamSeq: givenUp.streamSeq, deliveryCount: givenUp.deliveries + 1 };
    const source = {
      get headers(): MsgHdrs {
        return stored.header;
      },
    };
    const record = recordForGroup(
      toIncoming(
        source,
        stored.data,
        {
          topic: puller.target.topic,
          position: positionOf(puller.target.topic, stored.subject, info.streamSeq),
          deliveries: info.deliveryCount,
        },
        () => storedHeaderBlock(stored),
      ),
      this.spec.group,
    );
    if (record === undefined) return;
    const held: Held = {
      id,
      msg: undefined,
      puller: undefined,
      record,
      deliveries: info.deliveryCount,
      streamSeq: givenUp.streamSeq,
      last: true,
      touchedAt: Date.now(),
      done: false,
    };
    this.held.set(id, held);
    this.work.push(held);
  }

  onReconnect(): void {
    for (const puller of this.pullers) puller.renew();
  }

  override resume(): void {
    super.resume();
    // Pullers stopped asking while paused.
    for (const puller of this.pullers) puller.pull();
  }

  protected async drain(signal: AbortSignal | undefined): Promise<void> {
    for (const puller of this.pullers) puller.stop();
    this.watch.stop();
    await this.forgetPullRequests();
    // Records waiting here (for a retry of their last delivery, or to try a dead letter again)
    // go back to the group: the server redelivers them, or gives up on a last delivery and
    // another member takes it up on the advisory.
    this.stopWaits();
    // Records that no handler has started yet (up to prefetch − concurrency of them, or what a
    // pause held) are handled before the close ends, as in-flight ones are: given back, each
    // would return with one more delivery counted, an attempt the core never made.
    this.work.resume();
    await this.idle(signal);
    // After an abort, the records not started and those whose handler still runs go to the next
    // member now, rather than after ack_wait.
    this.giveBack(this.work.drainQueued());
    this.giveBack([...this.held.values()]);
    clearInterval(this.timer);
    this.unlisten?.();
    await this.ctx.link.flush(this.ctx.flushTimeoutMs);
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
      if (held.msg !== undefined) acks.nak(this.ctx.nc, held.msg, 0);
    }
  }

  protected async run(held: Held): Promise<void> {
    let record = held.record;
    let deliveries = held.deliveries;
    for (;;) {
      const settlement = await this.handle(record);
      if (held.done) return;
      if (settlement.type === 'ack') {
        if (held.msg !== undefined) acks.ack(this.ctx.nc, held.msg);
        this.finish(held);
        return;
      }
      if (settlement.type === 'deadLetter') {
        await this.deadLetterHeld(held, record, settlement);
        return;
      }
      if (!held.last) {
        acks.nak(this.ctx.nc, held.msg!, settlement.delayMs);
        this.finish(held);
        return;
      }
      // The server would not deliver this record again (it would drop it): the retry runs here,
      // the record kept meanwhile with progress acks, and counted as the delivery it stands for.
      if (!(await this.wait(settlement.delayMs))) {
        this.giveBack([held]);
        return;
      }
      deliveries++;
      record = { ...record, attempt: attemptOf(record.headers, deliveries) };
    }
  }

  /**
   * Publishes the dead letter, then terminates the original: terminated only once the dead letter
   * is stored, so that a crash in between duplicates it (and the duplicate window drops the
   * repeat; the message id is the dead-letter topic, the stream sequence and the group), never
   * loses it. A dead letter that cannot be stored keeps its record here (progress acks hold it at
   * the server) while it is tried again, no delivery spent; at a close it goes back to the group.
   */
  private async deadLetterHeld(
    held: Held,
    record: IncomingRecord,
    settlement: DeadLetterSettlement,
  ): Promise<void> {
    const msgId = `${settlement.topic} ${held.streamSeq} ${encodeURIComponent(this.spec.group)}`;
    const landed = await this.deadLetter(
      record,
      settlement,
      (minimal) => this.ctx.publishDeadLetter(record, settlement, msgId, minimal),
      () => {
        if (!held.done && held.msg !== undefined) acks.term(this.ctx.nc, held.msg);
        this.finish(held);
      },
      () => !held.done,
    );
    if (!landed) this.giveBack([held]);
  }

  private finish(held: Held): void {
    if (held.done) return;
    held.done = true;
    this.held.delete(held.id);
    held.puller?.release();
  }

  private tick(): void {
    const now = Date.now();
    for (const held of this.held.values()) {
      if (held.msg !== undefined && now - held.touchedAt >= this.progressEveryMs) {
        acks.working(this.ctx.nc, held.msg);
        held.touchedAt = now;
      }
    }
    for (const puller of this.pullers) puller.checkSilence(now);
  }
}

/** Where a JetStream record is, for logs and dead letters: `<topic>/<partition>@<stream sequence>`. */
function positionOf(topic: string, subject: string, streamSeq: number): string {
  return `${topic}/${subject.slice(subject.lastIndexOf('.') + 1)}@${streamSeq}`;
}
