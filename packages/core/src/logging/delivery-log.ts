import type { LandedDeadLetter, Settlement } from '../adapters/contract';
import type { MessageContext } from '../context/delivery';
import { clip } from '../internal/text';
import type { LogFields, SafeLogger } from './logger';

/** @internal Header names of the envelope attributes a log line needs before the decode step ran. */
export interface CorrelationHeaders {
  readonly id: string;
  readonly type: string;
}

/**
 * @internal The fields every line about one delivery carries. The event id and type come from the
 * decoded event when there is one, else from the record's headers (a record that failed to decode
 * still names what it claims to be).
 */
export function correlationFields(ctx: MessageContext, headers: CorrelationHeaders): LogFields {
  const { record, event } = ctx;
  return {
    // What a record claims in its headers is bounded: a poison record's type may be 100 KB long.
    eventId: event?.id ?? clipped(record.headers[headers.id]),
    eventType: event?.type ?? clipped(record.headers[headers.type]),
    group: ctx.group,
    attempt: ctx.attempt,
    topic: record.topic,
    position: record.position,
  };
}

/**
 * @internal Logs what became of a delivery that needs a human's attention: a retry (warn), a
 * duplicate skipped (debug). An ack is not logged: that is the happy path. A dead letter is logged
 * by {@link logDeadLettered} once the adapter says it is stored, not when it is decided.
 */
export function logSettlement(
  logger: SafeLogger,
  fields: LogFields,
  ctx: MessageContext,
  settlement: Settlement,
  error: Error | undefined,
): void {
  if (error !== undefined) fields.err = error;
  switch (settlement.type) {
    case 'retry':
      fields.delayMs = settlement.delayMs;
      logger.log(
        'warn',
        fields,
        `handler failed (attempt ${ctx.attempt} of ${ctx.maxAttempts}); retrying in ${settlement.delayMs} ms`,
      );
      return;
    case 'deadLetter':
      return;
    case 'ack':
      if (ctx.duplicate) logger.log('debug', fields, 'duplicate event skipped');
  }
}

/** @internal Logs a dead letter the adapter has stored, with the fields of its delivery. */
export function logDeadLettered(logger: SafeLogger, fields: LogFields, landed: LandedDeadLetter): void {
  fields.deadLetterTopic = landed.topic;
  fields.reason = landed.reason;
  if (landed.reduced.length > 0) fields.reduced = landed.reduced;
  const reduced =
    landed.reduced.length > 0 ? ` (reduced: ${landed.reduced.join(' and ')} cut to fit the broker)` : '';
  logger.log('error', fields, `event dead-lettered to ${landed.topic}${reduced}: ${landed.reason}`);
}

/** @internal Logs a settlement the adapter could not apply; the broker keeps the record. */
export function logSettlementFailed(
  logger: SafeLogger,
  fields: LogFields,
  settlement: Settlement,
  error: Error,
): void {
  fields.err = error;
  fields.settlement = settlement.type;
  const what =
    settlement.type === 'deadLetter'
      ? `dead letter to ${settlement.topic} could not be stored`
      : `${settlement.type} could not be applied`;
  logger.log('error', fields, `${what}; the broker keeps the event and it comes back: ${error.message}`);
}

const MAX_CLAIMED = 200;

function clipped(value: string | undefined): string | undefined {
  return value === undefined ? undefined : clip(value, MAX_CLAIMED);
}
