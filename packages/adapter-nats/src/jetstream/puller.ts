import { ConnectionError } from '@tidings/core/adapter';
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';

/** How long a pull request waits on the server for records. */
const PULL_EXPIRES_MS = 30_000;
/** How often the server says an idle pull request is alive. */
export const PULL_HEARTBEAT_MS = 5_000;
/** Silence after which the adapter assumes its pull requests are gone (a server restart) and renews them. */
const PULL_SILENCE_MS = 3 * PULL_HEARTBEAT_MS;
/** Pause before pulling again after the server refused a pull request. */
const REFUSED_BACKOFF_MS = 1_000;

const encoder = new TextEncoder();

/** One durable consumer a subscription pulls from. */
export interface PullTarget {
  readonly stream: string;
  readonly consumer: string;
  readonly topic: string;
}

/** What a puller needs from its subscription. */
export interface PullerHost {
  /** Takes one record; the puller counts it as held until {@link Puller.release}. */
  deliver(msg: Msg, puller: Puller): void;
  /** A problem worth showing in health reports; `fatal` when pulling cannot go on by itself. */
  report(error: Error, fatal: boolean): void;
  /** Whether new records are wanted now (not paused, not closing). */
  readonly wanting: boolean;
  /** The consumer answered a pull request (an idle heartbeat): pulling works. */
  alive(): void;
}

/**
 * Pulls records from one durable consumer with explicit credit: it never asks for more than its
 * `share` minus what it holds and what it already asked for, so a subscription holds no more
 * records than its prefetch allows (plus one per consumer when a subscription spans more
 * consumers than its prefetch). Pull requests carry idle heartbeats; a puller that hears
 * nothing for a while, or whose connection came back, forgets its requests and asks again.
 */
export class Puller {
  /** Records asked for and not yet received. */
  private outstanding = 0;
  /** Records received and not yet released by the subscription. */
  private held = 0;
  private lastHeard = Date.now();
  private sub: Subscription | undefined;
  private stopped = false;
  private backoff: NodeJS.Timeout | undefined;
  private readonly inbox: string;
  private readonly nextSubject: string;

  constructor(
    private readonly nc: NatsConnection,
    readonly target: PullTarget,
    private readonly share: number,
    private readonly host: PullerHost,
    inboxPrefix: string | undefined,
  ) {
    this.inbox = createInbox(inboxPrefix);
    this.nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${target.stream}.${target.consumer}`;
  }

  start(): void {
    this.sub = this.nc.subscribe(this.inbox, { callback: (error, msg) => this.onMessage(error, msg) });
    this.pull();
  }

  /** The subscription is done with one record of this puller. */
  release(): void {
    this.held = Math.max(0, this.held - 1);
    this.pull();
  }

  /** Asks for records if there is room and the subscription wants them. */
  pull(): void {
    if (this.stopped || this.backoff !== undefined || !this.host.wanting) return;
    const want = this.share - this.outstanding - this.held;
    // Ask in batches of a quarter of the share, not one record per settlement.
    if (want <= 0 || (this.outstanding > 0 && want < Math.ceil(this.share / 4))) return;
    if (this.outstanding === 0) this.lastHeard = Date.now();
    this.outstanding += want;
    const request = {
      batch: want,
      expires: PULL_EXPIRES_MS * 1_000_000,
      idle_heartbeat: PULL_HEARTBEAT_MS * 1_000_000,
    };
    try {
      this.nc.publish(this.nextSubject, encoder.encode(JSON.stringify(request)), { reply: this.inbox });
    } catch (error) {
      this.outstanding -= want;
      this.host.report(error as Error, false);
      this.retryLater();
    }
  }

  /** Forgets the pull requests in flight (lost with a connection) and asks again. */
  renew(): void {
    this.outstanding = 0;
    this.pull();
  }

  /** Renews the pull requests when the server has been silent for too long. */
  checkSilence(now: number): void {
    if (this.outstanding > 0 && now - this.lastHeard > PULL_SILENCE_MS) this.renew();
  }

  /** Stops pulling; the server stops delivering once it sees the inbox gone. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.backoff);
    this.sub?.unsubscribe();
  }

  private onMessage(error: Error | null, msg: Msg): void {
    if (this.stopped) return;
    this.lastHeard = Date.now();
    if (error !== null) {
      this.host.report(error, false);
      this.retryLater();
      return;
    }
    if (msg.subject !== this.inbox) {
      this.outstanding = Math.max(0, this.outstanding - 1);
      this.held++;
      this.host.deliver(msg, this);
      return;
    }
    const code = msg.headers?.code ?? 0;
    if (code === 100) {
      // Idle heartbeat: the consumer is there (again, after a replay recreated it).
      this.host.alive();
      return;
    }
    const pending = Number(msg.headers?.get('Nats-Pending-Messages') ?? '');
    if ((code === 408 || code === 409 || code === 404) && Number.isInteger(pending) && pending > 0) {
      // A request ended (expired, or cut short) with `pending` records not delivered.
      this.outstanding = Math.max(0, this.outstanding - pending);
      this.pull();
      return;
    }
    const description = msg.headers?.description ?? '';
    const fatal = /consumer deleted/i.test(description);
    this.host.report(
      new ConnectionError(
        `consumer "${this.target.consumer}" of stream "${this.target.stream}" refused a pull: ${code} ${description}`.trim(),
      ),
      fatal,
    );
    this.retryLater();
  }

  private retryLater(): void {
    if (this.stopped || this.backoff !== undefined) return;
    this.backoff = setTimeout(() => {
      this.backoff = undefined;
      this.renew();
    }, REFUSED_BACKOFF_MS);
  }
}
