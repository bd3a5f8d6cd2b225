import type { AnyEventContract } from '../contracts/define-event';
import type { Codec } from '../envelope/codec';
import { decodeEnvelope } from '../envelope/envelope';
import { MessageTooLargeError, UnknownEventTypeError, ValidationError } from '../errors';
import type { Middleware } from '../middleware/types';
import type { ReceivedEvent } from './context';

/** What the decode step needs to know. */
export interface DecodeStepOptions {
  readonly contracts: ReadonlyMap<string, AnyEventContract>;
  readonly prefix: string;
  readonly contentTypeHeader: string | undefined;
  readonly codecs: ReadonlyMap<string, Codec>;
  readonly defaultCodec: Codec;
  readonly maxMessageBytes: number;
  /** What to do with a record of a type the subscription does not handle. */
  readonly unknownTypes: 'deadLetter' | 'ack';
  /** Whether to validate data against the contract's schema. */
  readonly validate: boolean;
}

/**
 * The step that turns a record into a typed event: size check, envelope decoding, type lookup,
 * upcasting and schema validation. Every failure here is permanent (a `DecodeError`,
 * `UnknownEventTypeError`, `ValidationError` or `MessageTooLargeError`), so the retry policy
 * passes it straight to the dead-letter policy.
 */
export function decodeStep(options: DecodeStepOptions): Middleware {
  const { contracts, maxMessageBytes, unknownTypes, validate } = options;
  const envelopeOptions = {
    prefix: options.prefix,
    codecs: options.codecs,
    defaultCodec: options.defaultCodec,
  };
  const known = [...contracts.keys()];
  return async (ctx, next) => {
    const { record } = ctx;
    if (record.body.byteLength > maxMessageBytes) {
      throw new MessageTooLargeError(record.body.byteLength, maxMessageBytes);
    }
    const envelope = decodeEnvelope(record, envelopeOptions);
    const contract = contracts.get(envelope.type);
    if (contract === undefined) {
      if (unknownTypes === 'ack') return;
      throw new UnknownEventTypeError(envelope.type, known);
    }
    let data = contract.upcast(envelope.data, envelope.eventversion);
    if (validate) {
      let outcome = contract.validate(data);
      if (outcome instanceof Promise) outcome = await outcome;
      if (outcome.issues !== undefined) throw new ValidationError(contract.type, outcome.issues);
      data = outcome.value;
    }
    const event: ReceivedEvent = {
      id: envelope.id,
      type: envelope.type,
      source: envelope.source,
      time: envelope.time,
      subject: envelope.subject,
      key: envelope.partitionkey ?? record.key,
      version: envelope.eventversion,
      correlationId: envelope.correlationid,
      causationId: envelope.causationid,
      traceparent: envelope.traceparent,
      tracestate: envelope.tracestate,
      dataschema: envelope.dataschema,
      extensions: envelope.extensions,
      data,
    };
    ctx.event = event;
    ctx.contract = contract;
    await next();
  };
}
