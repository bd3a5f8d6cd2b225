import {
  type Attributes,
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { IncomingRecord, LandedDeadLetter, Settlement } from '../adapters/contract';
import type { MessageContext } from '../context/delivery';
import { clip } from '../internal/text';
import {
  correlationFields,
  logDeadLettered,
  logSettlement,
  logSettlementFailed,
} from '../logging/delivery-log';
import type { LogFields } from '../logging/logger';
import type { Instruments } from './instruments';
import { ATTR, SPAN_EVENT } from './names';
import { PublishTelemetry } from './publish-telemetry';
import { failSpan, NO_CLOCK, SETTLEMENT_NAMES } from './telemetry-base';
import { parseTraceparent } from './trace-context';

/**
 * @internal The bus's traces, metrics and delivery logs. One per bus; the subscription runtimes
 * and the publish path call it at fixed points, and every method does as little as it can when
 * no SDK is registered: no span objects, no clocks, no attribute objects. The publishing half is
 * {@link PublishTelemetry}; this file holds the processing half: `process` spans, the consumed
 * counters and duration, and the log lines of deliveries that need attention.
 */
export class BusTelemetry extends PublishTelemetry {
  // ---------------------------------------------------------------------------------------------
  // Consuming

  /**
   * Starts the `process` span of one delivery (CONSUMER), a child of the event's creation context
   * read from the record's headers (the decode step has not run yet), with a link to it as the
   * conventions ask. `undefined` when no span is recorded.
   */
  startProcess(ctx: MessageContext): Span | undefined {
    if (!this.tracing) return undefined;
    try {
      return this.startProcessSpan(ctx);
    } catch (error) {
      // A tracer that throws (the API promises it never does) must not cost the message.
      this.broken(error);
      return undefined;
    }
  }

  private startProcessSpan(ctx: MessageContext): Span {
    const { record } = ctx;
    const headers = record.headers;
    const creation = parseTraceparent(headers[this.headers.traceparent], headers[this.headers.tracestate]);
    const options: SpanOptions = {
      kind: SpanKind.CONSUMER,
      attributes: this.consumeAttributes.get(record.topic, ctx.group).base,
    };
    // The root context, not the active one: whatever was active when the adapter's consumer loop
    // started is no parent of this delivery.
    let parent = ROOT_CONTEXT;
    if (creation !== undefined) {
      options.links = [{ context: creation }];
      parent = trace.setSpanContext(ROOT_CONTEXT, creation);
    }
    const span = this.tracer!.startSpan(`process ${record.topic}`, options, parent);
    if (span.isRecording()) {
      const attributes: Attributes = {
        [ATTR.attempt]: ctx.attempt,
        [ATTR.position]: record.position,
      };
      this.describeRecord(attributes, headers, record.body);
      span.setAttributes(attributes);
    }
    return span;
  }

  /** Runs the pipeline with `span` active, so spans the handler makes (and its publishes) are children. */
  within<TResult>(span: Span, run: (ctx: MessageContext) => TResult, ctx: MessageContext): TResult {
    return context.with(trace.setSpan(ROOT_CONTEXT, span), run, undefined, ctx);
  }

  /** A start time for the duration histogram; {@link NO_CLOCK} when metrics are off. */
  clock(): number {
    return this.instruments === undefined ? NO_CLOCK : performance.now();
  }

  /** Ends a delivery: closes its span, records its metrics and logs it if it needs attention. */
  endProcess(
    ctx: MessageContext,
    settlement: Settlement,
    error: Error | undefined,
    span: Span | undefined,
    started: number,
  ): void {
    try {
      if (span !== undefined) this.endProcessSpan(span, ctx, settlement, error);
      if (started !== NO_CLOCK && this.instruments !== undefined) {
        this.recordProcess(this.instruments, ctx, settlement, error, started);
      }
    } catch (thrown) {
      this.broken(thrown);
    }
    if (!this.logger.enabled) return;
    if (settlement.type === 'deadLetter') {
      // Logged when the adapter says the dead letter is stored (see deadLettered), with these fields.
      const fields = this.deliveryFields(ctx, span);
      if (error !== undefined) fields.err = error;
      this.awaitingDeadLetter.set(ctx.record, fields);
    } else if (settlement.type !== 'ack' || ctx.duplicate) {
      logSettlement(this.logger, this.deliveryFields(ctx, span), ctx, settlement, error);
    }
  }

  /** The adapter stored the dead letter of `record`: now it is true, say so. */
  deadLettered(record: IncomingRecord, group: string, landed: LandedDeadLetter): void {
    if (!this.logger.enabled) return;
    const fields = this.awaitingDeadLetter.get(record) ?? this.recordFields(record, group);
    this.awaitingDeadLetter.delete(record);
    logDeadLettered(this.logger, fields, landed);
  }

  /** The adapter could not apply the settlement of `record`; it stays with the broker. */
  settlementFailed(record: IncomingRecord, group: string, settlement: Settlement, error: Error): void {
    if (!this.logger.enabled) return;
    const fields = { ...(this.awaitingDeadLetter.get(record) ?? this.recordFields(record, group)) };
    logSettlementFailed(this.logger, fields, settlement, error);
  }

  /** Correlation fields read from a record's headers alone. */
  private recordFields(record: IncomingRecord, group: string): LogFields {
    return {
      eventId: clip(record.headers[this.headers.id] ?? '', 200) || undefined,
      eventType: clip(record.headers[this.headers.type] ?? '', 200) || undefined,
      group,
      attempt: record.attempt,
      topic: record.topic,
      position: record.position,
    };
  }

  /** The correlation fields of a delivery for a log line, with the trace id when there is one. */
  deliveryFields(ctx: MessageContext, span?: Span): LogFields {
    const fields = correlationFields(ctx, this.headers);
    const spanContext = span?.spanContext();
    if (spanContext !== undefined && isSpanContextValid(spanContext)) {
      fields.traceId = spanContext.traceId;
      fields.spanId = spanContext.spanId;
    }
    return fields;
  }

  private endProcessSpan(
    span: Span,
    ctx: MessageContext,
    settlement: Settlement,
    error: Error | undefined,
  ): void {
    if (span.isRecording()) {
      const { event } = ctx;
      // A record in structured content mode has no id header: the decoded event names it.
      if (event !== undefined && ctx.record.headers[this.headers.id] === undefined) {
        span.setAttribute(ATTR.messageId, event.id);
        span.setAttribute(ATTR.eventType, event.type);
        if (event.correlationId !== undefined) span.setAttribute(ATTR.conversationId, event.correlationId);
      }
      span.setAttribute(ATTR.settlement, SETTLEMENT_NAMES[settlement.type]);
      if (ctx.duplicate) span.setAttribute(ATTR.duplicate, true);
      if (error !== undefined) failSpan(span, error);
      if (settlement.type === 'retry') {
        span.addEvent(SPAN_EVENT.retry, {
          [ATTR.retryDelay]: settlement.delayMs,
          [ATTR.nextAttempt]: ctx.attempt + 1,
        });
        if (error === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: 'retry' });
      } else if (settlement.type === 'deadLetter') {
        span.addEvent(SPAN_EVENT.deadLetter, {
          [ATTR.deadLetterReason]: settlement.reason,
          [ATTR.deadLetterDestination]: settlement.topic,
        });
        if (error === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: settlement.reason });
      }
    }
    span.end();
  }

  private recordProcess(
    instruments: Instruments,
    ctx: MessageContext,
    settlement: Settlement,
    error: Error | undefined,
    started: number,
  ): void {
    const { record } = ctx;
    const set = this.consumeAttributes.get(record.topic, ctx.group);
    let attributes = set[settlement.type];
    if (error !== undefined) attributes = { ...attributes, [ATTR.errorType]: error.name };
    instruments.consumed.add(1, attributes);
    instruments.processDuration.record((performance.now() - started) / 1000, attributes);
    if (settlement.type === 'retry') instruments.retried.add(1, attributes);
    else if (settlement.type === 'deadLetter') instruments.deadLettered.add(1, attributes);
    // The latency ends with the event's last delivery to the group, once, retries included.
    if (settlement.type === 'retry' || ctx.duplicate) return;
    const time = ctx.event?.time ?? record.headers[this.headers.time];
    if (time === undefined) return;
    const at = Date.parse(time);
    if (Number.isNaN(at)) return;
    instruments.latency.record(Math.max(0, Date.now() - at) / 1000, set.base);
  }
}
