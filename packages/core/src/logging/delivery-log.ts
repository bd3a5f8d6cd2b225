import type { Settlement } from '../adapters/types';
import type { MessageContext } from '../bus/context';
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
    eventId: event?.id ?? record.headers[headers.id],
    eventType: event?.type ?? record.headers[headers.type],
    group: ctx.group,
    attempt: ctx.attempt,
    topic: record.topic,
    position: record.position,
  };
}

/**
 * @internal Logs what became of a delivery that needs a human's attention: a retry (warn), a dead
 * letter (error), a duplicate skipped (debug). An ack is not logged: that is the happy path.
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
      fields.deadLetterTopic = settlement.topic;
      fields.reason = settlement.reason;
      logger.log('error', fields, `event dead-lettered to ${settlement.topic}: ${settlement.reason}`);
      return;
    case 'ack':
      if (ctx.duplicate) logger.log('debug', fields, 'duplicate event skipped');
  }
}
