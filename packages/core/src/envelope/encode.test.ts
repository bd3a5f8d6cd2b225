import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OrderPlaced } from '../../test/support/contracts';
import type { EventDraft } from '../context/publish';
import { MessageTooLargeError } from '../errors';
import { jsonCodec } from './codec';
import { createEventEncoder } from './encode';
import { ATTRIBUTE_NAMES, decodeEnvelope } from './envelope';

const text = fc.string({ unit: 'grapheme', maxLength: 30 });
const optional = fc.option(text, { nil: undefined });
const nonEmpty = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 });
const RESERVED = new Set<string>(ATTRIBUTE_NAMES);
const extensionName = fc.stringMatching(/^[a-z0-9]{1,20}$/).filter((name) => !RESERVED.has(name));

const draftArbitrary = fc.record({
  topic: text,
  id: nonEmpty,
  source: nonEmpty,
  type: nonEmpty,
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

describe('the event encoder', () => {
  it('writes a record that decodes to the same event, transport headers kept', () => {
    fc.assert(
      fc.property(
        draftArbitrary,
        fc.constantFrom('ce_', 'ce-', 'cloudEvents:'),
        fc.constantFrom(undefined, 'content-type', 'ce-datacontenttype'),
        (fields, prefix, contentTypeHeader) => {
          const draft: EventDraft = { contract: OrderPlaced, ...fields };
          const encode = createEventEncoder({
            prefix,
            codec: jsonCodec,
            contentTypeHeader,
            maxMessageBytes: 1_000_000,
          });
          const record = encode(draft);
          expect(record.topic).toBe(draft.topic);
          expect(record.key).toBe(draft.key);
          for (const [name, value] of Object.entries(draft.headers ?? {}))
            expect(record.headers[name]).toBe(value);
          const envelope = decodeEnvelope(
            { ...record, attempt: 1, position: '0' },
            {
              prefix,
              codecs: new Map([['application/json', jsonCodec]]),
              defaultCodec: jsonCodec,
              contentTypeHeader,
            },
          );
          expect(envelope).toEqual({
            id: draft.id,
            source: draft.source,
            type: draft.type,
            specversion: '1.0',
            time: draft.time,
            datacontenttype: 'application/json',
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
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses a body over the limit', () => {
    const encode = createEventEncoder({ prefix: 'ce_', codec: jsonCodec, maxMessageBytes: 10 });
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
