import type { OutgoingRecord, RecordHeaders } from '../adapters/contract';
import { HandedOverRecord } from '../adapters/handed-over';
import { MessageTooLargeError } from '../errors';
import { type Codec, encodeData } from './codec';
import { CONTENT_TYPE_HEADER, type Envelope, headerNames } from './envelope';

/**
 * An event on its way to the wire, as the one encoder reads it: the bus's publish drafts are these,
 * and {@link encodeEnvelope} turns an envelope into one.
 */
export interface OutgoingEvent {
  readonly topic: string;
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time: string | undefined;
  readonly subject: string | undefined;
  /** Partition key: the record's key and the `partitionkey` attribute. */
  readonly key: string | undefined;
  /** Contract version: the `eventversion` attribute. */
  readonly version: number;
  readonly correlationId: string | undefined;
  readonly causationId: string | undefined;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  readonly dataschema: string | undefined;
  readonly extensions: Readonly<Record<string, string>> | undefined;
  /** Transport headers, written before the attributes (which win over them). */
  readonly headers: RecordHeaders | undefined;
  readonly data: unknown;
  /** `datacontenttype`, when it is not the codec's own. */
  readonly datacontenttype?: string | undefined;
}

/** Settings of {@link createEventEncoder}. */
export interface EventEncoderOptions {
  /** The header prefix of the broker's CloudEvents binding: `ce_`, `ce-`, `cloudEvents:`. */
  readonly prefix: string;
  readonly codec: Codec;
  /** The header for `datacontenttype`. Default `content-type`. */
  readonly contentTypeHeader?: string | undefined;
  /** Largest body, in bytes; a larger one is a `MessageTooLargeError`. Default: no limit. */
  readonly maxMessageBytes?: number | undefined;
}

/**
 * @internal The one encoder of the wire format: an event into a record in CloudEvents binary
 * content mode (attributes as headers named `prefix + attribute`, the data as the body through the
 * codec, `datacontenttype` in the content-type header). `handOver` says the caller gives the record
 * away at once (see {@link HandedOverRecord}).
 */
export function createEventEncoder(
  options: EventEncoderOptions,
): (event: OutgoingEvent, handOver?: boolean) => OutgoingRecord {
  const { prefix, codec } = options;
  const maxMessageBytes = options.maxMessageBytes ?? Number.POSITIVE_INFINITY;
  const names = headerNames(prefix);
  const contentTypeHeader = options.contentTypeHeader ?? CONTENT_TYPE_HEADER;
  const contentType = codec.contentType;
  return (event, handOver = false) => {
    const headers: Record<string, string> = event.headers === undefined ? {} : { ...event.headers };
    headers[names.specversion] = '1.0';
    headers[names.id] = event.id;
    headers[names.source] = event.source;
    headers[names.type] = event.type;
    headers[names.eventversion] = String(event.version);
    if (event.time !== undefined) headers[names.time] = event.time;
    if (event.subject !== undefined) headers[names.subject] = event.subject;
    if (event.dataschema !== undefined) headers[names.dataschema] = event.dataschema;
    if (event.key !== undefined) headers[names.partitionkey] = event.key;
    if (event.traceparent !== undefined) headers[names.traceparent] = event.traceparent;
    if (event.tracestate !== undefined) headers[names.tracestate] = event.tracestate;
    if (event.correlationId !== undefined) headers[names.correlationid] = event.correlationId;
    if (event.causationId !== undefined) headers[names.causationid] = event.causationId;
    const extensions = event.extensions;
    if (extensions !== undefined) {
      for (const name in extensions) headers[prefix + name] = extensions[name]!;
    }
    headers[contentTypeHeader] = event.datacontenttype ?? contentType;
    const body = encodeData(codec, event.type, event.data);
    if (body.byteLength > maxMessageBytes) throw new MessageTooLargeError(body.byteLength, maxMessageBytes);
    // A record no one else will see (no middleware, not prepared for an outbox) is handed over, so
    // that a broker which keeps records need not copy it.
    if (handOver) return new HandedOverRecord(event.topic, event.key, headers, body);
    return { topic: event.topic, key: event.key, headers, body };
  };
}

/**
 * Writes an envelope to a record in CloudEvents binary content mode: every attribute becomes a
 * header named `prefix + attribute`, the data becomes the body through `codec`, and
 * `datacontenttype` goes to the `content-type` header. The bus writes its events with the same
 * encoder.
 *
 * @example
 * ```ts
 * const record = encodeEnvelope(envelope, 'order.placed', { prefix: 'ce_', codec: jsonCodec });
 * record.headers.ce_type; // 'order.placed'
 * ```
 */
export function encodeEnvelope(
  envelope: Envelope,
  topic: string,
  options: {
    readonly prefix: string;
    readonly codec: Codec;
    readonly headers?: RecordHeaders | undefined;
    /** The header for `datacontenttype`. Default `content-type`. */
    readonly contentTypeHeader?: string | undefined;
  },
): OutgoingRecord {
  return createEventEncoder(options)({
    topic,
    id: envelope.id,
    source: envelope.source,
    type: envelope.type,
    time: envelope.time,
    subject: envelope.subject,
    key: envelope.partitionkey,
    version: envelope.eventversion,
    correlationId: envelope.correlationid,
    causationId: envelope.causationid,
    traceparent: envelope.traceparent,
    tracestate: envelope.tracestate,
    dataschema: envelope.dataschema,
    extensions: envelope.extensions,
    headers: options.headers,
    data: envelope.data,
    datacontenttype: envelope.datacontenttype,
  });
}
