import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Codec } from '../envelope/codec';
import { jsonCodec } from '../envelope/codec';
import { encodeEnvelope } from '../envelope/envelope';
import { MessageTooLargeError } from '../errors';
import { createDraftEncoder } from './encode';
import { OrderPlaced } from './fixtures';
import type { EventDraft } from './publish';

// The bus encodes drafts without building an envelope first; the record must be the one
// encodeEnvelope makes of the draft's envelope, headers in the same order, body byte for byte.
function viaEnvelope(draft: EventDraft, prefix: string, codec: Codec, contentTypeHeader?: string) {
  return encodeEnvelope(
    {
      id: draft.id,
      source: draft.source,
      type: draft.type,
      specversion: '1.0',
      time: draft.time,
      datacontenttype: codec.contentType,
      subject: draft.subject,
      dataschema: draft.dataschema,
      eventversion: draft.version,
      partitionkey: draft.key,
      traceparent: draft.traceparent,
      tracestate: draft.tracestate,
      correlationid: draft.correlationId,
      causationid: draft.causationId,
      extensions: draft.extensions ?? {},
      data: draft.data,
    },
    draft.topic,
    { prefix, codec, headers: draft.headers, contentTypeHeader },
  );
}

const text = fc.string({ unit: 'grapheme', maxLength: 30 });
const optional = fc.option(text, { nil: undefined });
const extensionName = fc.stringMatching(/^[a-z0-9]{1,20}$/);

const draftArbitrary = fc.record({
  topic: text,
  id: text,
  source: text,
  type: text,
  time: text,
  subject: optional,
  key: optional,
  version: fc.integer({ min: 1, max: 1_000 }),
  correlationId: optional,
  causationId: optional,
  traceparent: optional,
  tracestate: optional,
  dataschema: optional,
  extensions: fc.option(fc.dictionary(extensionName, text, { maxKeys: 3 }), { nil: undefined }),
  headers: fc.option(
    fc.dictionary(
      text.map((name) => `x-${name}`),
      text,
      { maxKeys: 3 },
    ),
    { nil: undefined },
  ),
  data: fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown),
});

describe('the draft encoder', () => {
  it('writes what encodeEnvelope writes for the same event', () => {
    fc.assert(
      fc.property(
        draftArbitrary,
        fc.constantFrom('ce_', 'ce-', ''),
        fc.constantFrom(undefined, 'content-type', 'ce_datacontenttype'),
        (fields, prefix, contentTypeHeader) => {
          const draft: EventDraft = { contract: OrderPlaced, ...fields };
          const encode = createDraftEncoder({
            prefix,
            codec: jsonCodec,
            contentTypeHeader,
            maxMessageBytes: 1_000_000,
          });
          const record = encode(draft);
          const expected = viaEnvelope(draft, prefix, jsonCodec, contentTypeHeader);
          expect(Object.entries(record.headers)).toEqual(Object.entries(expected.headers));
          expect(record.topic).toBe(expected.topic);
          expect(record.key).toBe(expected.key);
          expect(Buffer.from(record.body).equals(Buffer.from(expected.body))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a body over the limit', () => {
    const encode = createDraftEncoder({
      prefix: 'ce_',
      codec: jsonCodec,
      contentTypeHeader: undefined,
      maxMessageBytes: 10,
    });
    const draft: EventDraft = {
      contract: OrderPlaced,
      topic: 't',
      id: 'i',
      source: 's',
      type: 'order.placed',
      time: '2026-01-01T00:00:00.000Z',
      subject: undefined,
      key: undefined,
      version: 1,
      correlationId: undefined,
      causationId: undefined,
      traceparent: undefined,
      tracestate: undefined,
      dataschema: undefined,
      extensions: undefined,
      headers: undefined,
      data: { note: 'more than ten bytes' },
    };
    expect(() => encode(draft)).toThrow(MessageTooLargeError);
  });
});
