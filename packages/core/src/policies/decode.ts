import type { MessageContext, ReceivedEvent } from '../context/delivery';
import type { AnyEventContract } from '../contracts/define-event';
import type { ValidationOutcome } from '../contracts/schema';
import type { Codec } from '../envelope/codec';
import { decodeEnvelope, type Envelope } from '../envelope/envelope';
import { MessageTooLargeError, UnknownEventTypeError, ValidationError } from '../errors';

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
 * @internal Decodes `ctx.record` into `ctx.event` and `ctx.contract`. Returns `true` when the
 * handler should run, `false` when the record is to be acknowledged unhandled (an unknown type
 * under `unknownTypes: 'ack'`), or a promise of either when the schema validates asynchronously.
 * Throws the permanent errors the decode step documents.
 */
export type Decoder = (ctx: MessageContext) => boolean | Promise<boolean>;

/**
 * @internal The decode step, which turns a record into a typed event: size check, envelope
 * decoding, type lookup, upcasting and schema validation. Every failure here is permanent (a
 * `DecodeError`, `UnknownEventTypeError`, `ValidationError` or `MessageTooLargeError`), so the
 * failure decision dead-letters it at once. A plain function, so that the pipeline can run it
 * without a promise when the schema validates synchronously.
 */
export function createDecoder(options: DecodeStepOptions): Decoder {
  const { contracts, maxMessageBytes, unknownTypes, validate } = options;
  const envelopeOptions = {
    prefix: options.prefix,
    codecs: options.codecs,
    defaultCodec: options.defaultCodec,
  };
  const known = [...contracts.keys()];
  return (ctx) => {
    const { record } = ctx;
    if (record.body.byteLength > maxMessageBytes) {
      throw new MessageTooLargeError(record.body.byteLength, maxMessageBytes);
    }
    const envelope = decodeEnvelope(record, envelopeOptions);
    const contract = contracts.get(envelope.type);
    if (contract === undefined) {
      if (unknownTypes === 'ack') return false;
      throw new UnknownEventTypeError(envelope.type, known);
    }
    const data = contract.upcast(envelope.data, envelope.eventversion);
    if (!validate) return accept(ctx, envelope, contract, data);
    const outcome = contract.validate(data);
    if (outcome instanceof Promise) {
      return outcome.then((resolved) => accept(ctx, envelope, contract, checked(contract, resolved)));
    }
    return accept(ctx, envelope, contract, checked(contract, outcome));
  };
}

function checked(contract: AnyEventContract, outcome: ValidationOutcome): unknown {
  if (outcome.issues !== undefined) throw new ValidationError(contract.type, outcome.issues);
  return outcome.value;
}

function accept(ctx: MessageContext, envelope: Envelope, contract: AnyEventContract, data: unknown): true {
  const event: ReceivedEvent = {
    id: envelope.id,
    type: envelope.type,
    source: envelope.source,
    time: envelope.time,
    subject: envelope.subject,
    key: envelope.partitionkey ?? ctx.record.key,
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
  return true;
}
