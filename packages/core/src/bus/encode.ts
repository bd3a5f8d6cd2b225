import type { OutgoingRecord } from '../adapters/types';
import { type Codec, encodeData } from '../envelope/codec';
import { CONTENT_TYPE_HEADER, headerNames } from '../envelope/envelope';
import { MessageTooLargeError } from '../errors';
import { HandedOverRecord } from '../internal/handed-over';
import type { EventDraft } from './publish';

/** What the bus encodes its drafts with. */
export interface DraftEncoderOptions {
  readonly prefix: string;
  readonly codec: Codec;
  /** The header for `datacontenttype`. Default `content-type`. */
  readonly contentTypeHeader: string | undefined;
  /** Largest body, in bytes; a larger one is a `MessageTooLargeError`. */
  readonly maxMessageBytes: number;
}

/**
 * @internal Encodes an event draft into a record in CloudEvents binary content mode: the same
 * headers, in the same order, and the same body as `encodeEnvelope` writes for the draft's
 * envelope (a test holds them to it), without building the envelope and options objects first.
 * `handOver` says the caller gives the record away at once (see {@link HandedOverRecord}).
 */
export function createDraftEncoder(
  options: DraftEncoderOptions,
): (draft: EventDraft, handOver?: boolean) => OutgoingRecord {
  const { prefix, codec, maxMessageBytes } = options;
  const names = headerNames(prefix);
  const contentTypeHeader = options.contentTypeHeader ?? CONTENT_TYPE_HEADER;
  const contentType = codec.contentType;
  return (draft, handOver = false) => {
    const headers: Record<string, string> = draft.headers === undefined ? {} : { ...draft.headers };
    headers[names.specversion] = '1.0';
    headers[names.id] = draft.id;
    headers[names.source] = draft.source;
    headers[names.type] = draft.type;
    headers[names.eventversion] = String(draft.version);
    if (draft.time !== undefined) headers[names.time] = draft.time;
    if (draft.subject !== undefined) headers[names.subject] = draft.subject;
    if (draft.dataschema !== undefined) headers[names.dataschema] = draft.dataschema;
    if (draft.key !== undefined) headers[names.partitionkey] = draft.key;
    if (draft.traceparent !== undefined) headers[names.traceparent] = draft.traceparent;
    if (draft.tracestate !== undefined) headers[names.tracestate] = draft.tracestate;
    if (draft.correlationId !== undefined) headers[names.correlationid] = draft.correlationId;
    if (draft.causationId !== undefined) headers[names.causationid] = draft.causationId;
    const extensions = draft.extensions;
    if (extensions !== undefined) {
      for (const name in extensions) headers[prefix + name] = extensions[name]!;
    }
    headers[contentTypeHeader] = contentType;
    const body = encodeData(codec, draft.type, draft.data);
    if (body.byteLength > maxMessageBytes) throw new MessageTooLargeError(body.byteLength, maxMessageBytes);
    // A record no one else will see (no middleware, not prepared for an outbox) is handed over, so
    // that a broker which keeps records need not copy it.
    if (handOver) return new HandedOverRecord(draft.topic, draft.key, headers, body);
    return { topic: draft.topic, key: draft.key, headers, body };
  };
}
