import type { JetStreamManager, Msg, NatsConnection, StoredMsg, Subscription } from 'nats';

/**
 * The queue group every member of every Tidings group listens to advisories in: the server sends
 * each advisory to one of them, so that one member (not all) takes the record up.
 */
const QUEUE = 'tidings-max-deliveries';

/** What the server says when it gives up on a record. */
export interface GivenUp {
  readonly consumer: string;
  readonly streamSeq: number;
  /** How many times the consumer delivered it. */
  readonly deliveries: number;
}

/** The subject of the server's `MAX_DELIVERIES` advisories for one consumer. */
export function maxDeliveriesSubject(stream: string, consumer: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`;
}

/**
 * Reads the advisory JetStream publishes when a consumer has delivered a record `max_deliver`
 * times without it being acknowledged and stops delivering it (the record stays in the stream).
 * Undefined for anything else.
 */
export function parseGivenUp(consumer: string, payload: string): GivenUp | undefined {
  try {
    const advisory = JSON.parse(payload) as { stream_seq?: unknown; deliveries?: unknown };
    const { stream_seq: streamSeq, deliveries } = advisory;
    if (!Number.isSafeInteger(streamSeq) || !Number.isSafeInteger(deliveries)) return undefined;
    return { consumer, streamSeq: streamSeq as number, deliveries: deliveries as number };
  } catch {
    return undefined;
  }
}

/**
 * The backstop for records that reach a consumer's `max_deliver` unsettled. A subscription never
 * hands a record's last delivery back to the server while it runs; but a member can die holding it
 * (or close without waiting), and the server then drops the record for the group, publishing a
 * `MAX_DELIVERIES` advisory, at most once, to whoever listens. Each member listens in one queue
 * group, so one live member takes the record from the stream and gives it to the core once more,
 * which dead-letters it. Advisories are not stored: if no member listens at that moment, the record
 * stays in the stream, unread by the group (the server still logs the advisory).
 */
export class MaxDeliveriesWatch {
  private subs: Subscription[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly onGivenUp: (givenUp: GivenUp) => void,
    /** The server refused the subscription (a user without permission for `$JS.EVENT.>`). */
    private readonly onError: (error: Error) => void,
  ) {}

  /** Listens for the advisories of these consumers. */
  start(consumers: readonly string[]): void {
    for (const consumer of new Set(consumers)) {
      this.subs.push(
        this.nc.subscribe(maxDeliveriesSubject(this.stream, consumer), {
          queue: QUEUE,
          callback: (error: Error | null, msg: Msg) => {
            if (error !== null) {
              this.onError(error);
              return;
            }
            const givenUp = parseGivenUp(consumer, msg.string());
            if (givenUp !== undefined) this.onGivenUp(givenUp);
          },
        }),
      );
    }
  }

  stop(): void {
    for (const sub of this.subs) sub.unsubscribe();
    this.subs = [];
  }
}

/** The record the server gave up on, read from the stream. */
export function fetchGivenUp(jsm: JetStreamManager, stream: string, givenUp: GivenUp): Promise<StoredMsg> {
  return jsm.streams.getMessage(stream, { seq: givenUp.streamSeq });
}

/** The raw header block of a stored message, which the adapter's own header parser reads. */
export function storedHeaderBlock(stored: StoredMsg): Uint8Array | undefined {
  const hdrs = (stored as unknown as { smr?: { message?: { hdrs?: unknown } } }).smr?.message?.hdrs;
  return typeof hdrs === 'string' ? Buffer.from(hdrs, 'base64') : undefined;
}
