import type { IncomingRecord, Settlement } from '../adapters/contract';
import type { AnyEventContract, EventData, EventInput } from '../contracts/define-event';
import type { PublishedEvent, PublishOptions } from './publish';

/**
 * An event as a handler receives it: the envelope's attributes under friendly names, and data
 * that has been decoded, upgraded to the contract's current version and validated.
 */
export interface ReceivedEvent<TType extends string = string, TData = unknown> {
  /** Unique id; the same on every redelivery. */
  readonly id: string;
  readonly type: TType;
  readonly source: string;
  /** When the fact happened (RFC 3339), as the producer stated it. */
  readonly time: string | undefined;
  readonly subject: string | undefined;
  /** Partition key. */
  readonly key: string | undefined;
  /** Contract version the producer wrote; `data` is already upgraded to the current one. */
  readonly version: number;
  readonly correlationId: string | undefined;
  readonly causationId: string | undefined;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  readonly dataschema: string | undefined;
  /** Other CloudEvents extension attributes. */
  readonly extensions: Readonly<Record<string, string>>;
  readonly data: TData;
}

/** A handler: receives the decoded, validated event and its delivery context. */
export type Handler<TEvent extends ReceivedEvent = ReceivedEvent> = (
  event: TEvent,
  ctx: MessageContext<TEvent>,
) => unknown;

/** The event a handler of `TContract` receives. */
export type EventOf<TContract extends AnyEventContract> = ReceivedEvent<
  TContract['type'],
  EventData<TContract>
>;

/**
 * Everything the pipeline knows about one delivery of one record. Middleware reads and writes it;
 * handlers get it as their second argument.
 */
export interface MessageContext<TEvent extends ReceivedEvent = ReceivedEvent> {
  /** The record as the adapter delivered it. */
  readonly record: IncomingRecord;
  /** The consumer group handling it. */
  readonly group: string;
  /** Delivery attempt, from 1. */
  readonly attempt: number;
  /** Most attempts the retry policy allows. */
  readonly maxAttempts: number;
  /** `Date.now()` when the delivery began. */
  readonly receivedAt: number;
  /** The decoded event; set by the decode step, so always present in a handler. */
  event: TEvent | undefined;
  /** The contract that matched the event's type; set with `event`. */
  contract: AnyEventContract | undefined;
  /** The verdict; `undefined` when the pipeline finishes means ack. */
  settlement: Settlement | undefined;
  /** The failure behind a retry or dead-letter verdict, for outer middleware to log or trace. */
  error: Error | undefined;
  /** Set by the idempotency policy when the event had already been handled and was skipped. */
  duplicate: boolean;
  /**
   * Aborted when the handler times out or the bus stops before the handler finished. Pass it to
   * I/O calls (fetch, database drivers) so abandoned work stops.
   */
  readonly signal: AbortSignal;
  /** Scratch space for middleware, keyed by anything (use a symbol of your own). */
  readonly state: Map<unknown, unknown>;
  /**
   * Publishes a follow-up event with `causationId` set to this event's id and `correlationId`
   * carried over (or set to this event's id when it had none).
   */
  publish<TContract extends AnyEventContract>(
    contract: TContract,
    data: EventInput<TContract>,
    options?: PublishOptions,
  ): Promise<PublishedEvent>;
}

/** The publishing side a context needs from its bus. */
export interface ContextPublisher {
  publish(contract: AnyEventContract, data: unknown, options?: PublishOptions): Promise<PublishedEvent>;
}

/** @internal The one implementation of {@link MessageContext}. */
export class DeliveryContext implements MessageContext {
  event: ReceivedEvent | undefined = undefined;
  contract: AnyEventContract | undefined = undefined;
  settlement: Settlement | undefined = undefined;
  error: Error | undefined = undefined;
  duplicate = false;
  readonly receivedAt = Date.now();
  private controller: AbortController | undefined;
  private abortReason: Error | undefined;
  private scratch: Map<unknown, unknown> | undefined;

  constructor(
    readonly record: IncomingRecord,
    readonly group: string,
    readonly maxAttempts: number,
    private readonly publisher: ContextPublisher,
  ) {}

  /** @internal Whether this delivery came through the bus that is `publisher`. */
  deliveredBy(publisher: ContextPublisher): boolean {
    return this.publisher === publisher;
  }

  get attempt(): number {
    return this.record.attempt;
  }

  // Created on first use: most handlers never look at the signal, and an AbortController per
  // message would cost more than the rest of the pipeline.
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get state(): Map<unknown, unknown> {
    this.scratch ??= new Map();
    return this.scratch;
  }

  /** Whether {@link abort} was called. */
  get aborted(): boolean {
    return this.abortReason !== undefined;
  }

  /** Aborts the handler's signal (timeout, forced stop). */
  abort(reason: Error): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  publish(contract: AnyEventContract, data: unknown, options: PublishOptions = {}): Promise<PublishedEvent> {
    const event = this.event;
    if (event === undefined) return this.publisher.publish(contract, data, options);
    return this.publisher.publish(contract, data, {
      ...options,
      causationId: options.causationId ?? event.id,
      correlationId: options.correlationId ?? event.correlationId ?? event.id,
    });
  }
}
