import type { OutgoingRecord } from '../adapters/contract';
import type { AnyEventContract, EventInput } from '../contracts/define-event';

/** Per-event options of `publish`. */
export interface PublishOptions {
  /** Partition key; overrides the contract's `key` function. */
  readonly key?: string;
  /** CloudEvents `subject`; overrides the contract's `subject` function. */
  readonly subject?: string;
  /** Event id. Default: a new UUIDv7. Set it to make a re-publish of the same fact deduplicable. */
  readonly id?: string;
  /** When the fact happened. Default: now. */
  readonly time?: Date | string;
  readonly correlationId?: string;
  readonly causationId?: string;
  /** W3C trace context; normally filled in by tracing middleware. */
  readonly traceparent?: string;
  readonly tracestate?: string;
  /** Extra CloudEvents extension attributes (lower-case alphanumeric names, at most 20 characters). */
  readonly extensions?: Readonly<Record<string, string>>;
  /** Extra transport headers, carried as they are. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Topic override for this event. Default: the contract's topic. */
  readonly topic?: string;
}

/** What `publish` resolves with once the broker has accepted the event. */
export interface PublishedEvent {
  readonly id: string;
  readonly type: string;
  readonly topic: string;
  readonly key: string | undefined;
}

/** One item of `publishBatch`. Build it with {@link batchEntry} to have its data type-checked. */
export interface BatchEntry<TContract extends AnyEventContract = AnyEventContract> {
  readonly contract: TContract;
  readonly data: EventInput<TContract>;
  readonly options?: PublishOptions;
}

/**
 * Builds a type-checked `publishBatch` entry.
 *
 * @example
 * ```ts
 * await bus.publishBatch([
 *   batchEntry(OrderPlaced, { orderId: 'o-1', total: 10, currency: 'EUR' }),
 *   batchEntry(OrderPlaced, { orderId: 'o-2', total: 12, currency: 'EUR' }),
 * ]);
 * ```
 */
export function batchEntry<TContract extends AnyEventContract>(
  contract: TContract,
  data: EventInput<TContract>,
  options?: PublishOptions,
): BatchEntry<TContract> {
  return options === undefined ? { contract, data } : { contract, data, options };
}

/**
 * An event on its way out, after validation and before encoding. Publish middleware may change
 * its attributes (tracing adds `traceparent`) and headers.
 */
export interface EventDraft {
  readonly contract: AnyEventContract;
  topic: string;
  id: string;
  source: string;
  type: string;
  time: string;
  subject: string | undefined;
  key: string | undefined;
  version: number;
  correlationId: string | undefined;
  causationId: string | undefined;
  traceparent: string | undefined;
  tracestate: string | undefined;
  dataschema: string | undefined;
  extensions: Record<string, string> | undefined;
  headers: Record<string, string> | undefined;
  /** The data as given (and validated); what goes on the wire. */
  readonly data: unknown;
}

/** What publish middleware sees. */
export interface PublishContext {
  /**
   * `publish`: the records go to the broker after the innermost step. `prepare`: they are only
   * encoded, for an outbox to store and a relay to send later.
   */
  readonly mode: 'publish' | 'prepare';
  /** The events of this call, in order. */
  readonly drafts: readonly EventDraft[];
  /** The encoded records; set by the innermost step just before the adapter is called. */
  records: readonly OutgoingRecord[] | undefined;
}

/**
 * A step around publishing, in onion order, for tracing, metrics or auditing. Code before
 * `await next()` may change the drafts; code after it runs once the broker accepted the records.
 */
export type PublishMiddleware = (ctx: PublishContext, next: () => Promise<void>) => Promise<void>;
