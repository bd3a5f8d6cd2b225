import {
  type Attributes,
  context,
  type Link,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  trace,
} from '@opentelemetry/api';
import type { OutgoingRecord } from '../adapters/contract';
import type { EventDraft, PublishContext } from '../context/publish';
import { toError } from '../errors';
import { ATTR } from './names';
import { failSpan, inject, NO_CLOCK, TelemetryBase } from './telemetry-base';
import { parseTraceparent } from './trace-context';

/**
 * @internal The publishing half of the bus's telemetry: `publish` spans and the published
 * counter, creation contexts written into envelopes, and the spans of prepared records an outbox
 * relay sends.
 */
export abstract class PublishTelemetry extends TelemetryBase {
  // ---------------------------------------------------------------------------------------------
  // Publishing

  /**
   * Runs a publish call (`run` encodes and sends `ctx.drafts`) in a `publish` span. One event: the
   * span is its creation context (PRODUCER) and its context goes in the envelope. Several: each
   * gets a `create` span of its own, and the `publish` span links to them (the semantic
   * conventions' batch shape: each event keeps a parent of its own, so every consumer's trace
   * leads back to the event it handled, not to a batch). Events that came with a `traceparent`
   * of the caller's keep it, and the span links to it.
   */
  publish(ctx: PublishContext, run: (ctx: PublishContext) => Promise<void>): Promise<void> {
    const tracing = this.tracing;
    const instruments = this.instruments;
    if (!tracing && instruments === undefined) return run(ctx);
    let span: Span | undefined;
    try {
      if (tracing) span = this.startPublish(ctx.drafts);
    } catch (error) {
      this.broken(error);
    }
    const started = instruments === undefined ? NO_CLOCK : performance.now();
    return this.runIn(span, run, ctx).then(
      () => this.endPublish(ctx, span, started, undefined),
      (thrown: unknown) => {
        this.endPublish(ctx, span, started, toError(thrown));
        throw thrown;
      },
    );
  }

  /**
   * Prepares events for an outbox: each gets a `create` span (PRODUCER) in the caller's trace,
   * and its context goes in the envelope, so that the relay and the consumers continue the trace
   * of the request that wrote the event, however much later they run.
   */
  prepare(ctx: PublishContext, run: (ctx: PublishContext) => Promise<void>): Promise<void> {
    if (this.tracing) {
      try {
        const parent = context.active();
        for (const draft of ctx.drafts) this.creationContext(draft, parent);
      } catch (error) {
        this.broken(error);
      }
    }
    return run(ctx);
  }

  /**
   * Sends records prepared earlier (an outbox relay's batch) in a `publish` span that links to each
   * record's creation context. When every record comes from one trace, the span joins that trace.
   */
  sendPrepared(
    records: readonly OutgoingRecord[],
    send: (records: readonly OutgoingRecord[]) => Promise<void>,
  ): Promise<void> {
    this.refresh();
    const tracing = this.tracing;
    const instruments = this.instruments;
    if (!tracing && instruments === undefined) return send(records);
    let span: Span | undefined;
    try {
      if (tracing) span = this.startSendPrepared(records);
    } catch (error) {
      this.broken(error);
    }
    const started = instruments === undefined ? NO_CLOCK : performance.now();
    return this.runIn(span, send, records)
      .then(
        () => this.countSent(records, started, undefined),
        (thrown: unknown) => {
          const error = toError(thrown);
          if (span !== undefined) failSpan(span, error);
          this.countSent(records, started, error);
          throw thrown;
        },
      )
      .finally(() => span?.end());
  }

  private startPublish(drafts: readonly EventDraft[]): Span {
    const tracer = this.tracer!;
    const parent = context.active();
    if (drafts.length === 1) {
      const draft = drafts[0]!;
      const custom = parseTraceparent(draft.traceparent, draft.tracestate);
      const options: SpanOptions = {
        kind: custom === undefined ? SpanKind.PRODUCER : SpanKind.CLIENT,
        attributes: this.spanAttributes.get(draft.topic, 'publish'),
      };
      if (custom !== undefined) options.links = [{ context: custom }];
      const span = tracer.startSpan(`publish ${draft.topic}`, options, parent);
      if (custom === undefined) inject(draft, span.spanContext());
      if (span.isRecording()) this.describeDraft(span, draft);
      return span;
    }
    let topic: string | undefined = drafts[0]?.topic;
    const links: Link[] = [];
    for (const draft of drafts) {
      if (draft.topic !== topic) topic = undefined;
      links.push({ context: this.creationContext(draft, parent) });
    }
    const attributes: Attributes = {
      [ATTR.system]: this.system,
      [ATTR.operationType]: 'send',
      [ATTR.operationName]: 'publish',
      [ATTR.batchCount]: drafts.length,
    };
    if (topic !== undefined) attributes[ATTR.destination] = topic;
    // Its context is no event's creation context, so by the conventions it is a CLIENT span.
    return tracer.startSpan(
      topic === undefined ? 'publish' : `publish ${topic}`,
      {
        kind: SpanKind.CLIENT,
        links,
        attributes,
      },
      parent,
    );
  }

  /** The creation context of one event: the caller's own `traceparent`, or a new `create` span's. */
  private creationContext(draft: EventDraft, parent: ReturnType<typeof context.active>): SpanContext {
    const custom = parseTraceparent(draft.traceparent, draft.tracestate);
    if (custom !== undefined) return custom;
    const span = this.tracer!.startSpan(
      `create ${draft.topic}`,
      { kind: SpanKind.PRODUCER, attributes: this.spanAttributes.get(draft.topic, 'create') },
      parent,
    );
    const spanContext = span.spanContext();
    inject(draft, spanContext);
    if (span.isRecording()) this.describeDraft(span, draft);
    span.end();
    return spanContext;
  }

  private describeDraft(span: Span, draft: EventDraft): void {
    span.setAttribute(ATTR.messageId, draft.id);
    span.setAttribute(ATTR.eventType, draft.type);
    span.setAttribute(ATTR.eventSource, draft.source);
    if (draft.correlationId !== undefined) span.setAttribute(ATTR.conversationId, draft.correlationId);
  }

  private endPublish(
    ctx: PublishContext,
    span: Span | undefined,
    started: number,
    error: Error | undefined,
  ): void {
    try {
      this.finishPublish(ctx, span, started, error);
    } catch (thrown) {
      this.broken(thrown);
    }
  }

  private finishPublish(
    ctx: PublishContext,
    span: Span | undefined,
    started: number,
    error: Error | undefined,
  ): void {
    if (span !== undefined) {
      if (span.isRecording()) {
        const record = ctx.drafts.length === 1 ? ctx.records?.[0] : undefined;
        if (record !== undefined) span.setAttribute(ATTR.bodySize, record.body.byteLength);
        if (error !== undefined) failSpan(span, error);
      }
      span.end();
    }
    if (started === NO_CLOCK || this.instruments === undefined) return;
    const { sent, publishDuration } = this.instruments;
    const errorType = error === undefined ? '' : error.name;
    const drafts = ctx.drafts;
    for (let i = 0; i < drafts.length; i++)
      sent.add(1, this.publishAttributes.get(drafts[i]!.topic, errorType));
    const first = drafts[0];
    if (first !== undefined) {
      publishDuration.record(
        (performance.now() - started) / 1000,
        this.publishAttributes.get(first.topic, errorType),
      );
    }
  }

  private startSendPrepared(records: readonly OutgoingRecord[]): Span {
    const links: Link[] = [];
    let topic: string | undefined = records[0]?.topic;
    let shared: SpanContext | undefined;
    let oneTrace = true;
    for (const record of records) {
      if (record.topic !== topic) topic = undefined;
      const creation = parseTraceparent(
        record.headers[this.headers.traceparent],
        record.headers[this.headers.tracestate],
      );
      if (creation === undefined) {
        oneTrace = false;
        continue;
      }
      links.push({ context: creation });
      if (shared === undefined) shared = creation;
      else if (shared.traceId !== creation.traceId) oneTrace = false;
    }
    const attributes: Attributes = {
      [ATTR.system]: this.system,
      [ATTR.operationType]: 'send',
      [ATTR.operationName]: 'publish',
    };
    if (topic !== undefined) attributes[ATTR.destination] = topic;
    if (records.length > 1) attributes[ATTR.batchCount] = records.length;
    else if (records[0] !== undefined) this.describeRecord(attributes, records[0].headers, records[0].body);
    const active = context.active();
    const parent = oneTrace && shared !== undefined ? trace.setSpanContext(active, shared) : active;
    return this.tracer!.startSpan(
      topic === undefined ? 'publish' : `publish ${topic}`,
      {
        kind: SpanKind.CLIENT,
        links,
        attributes,
      },
      parent,
    );
  }

  private countSent(records: readonly OutgoingRecord[], started: number, error: Error | undefined): void {
    if (started === NO_CLOCK || this.instruments === undefined) return;
    const errorType = error === undefined ? '' : error.name;
    for (const record of records)
      this.instruments.sent.add(1, this.publishAttributes.get(record.topic, errorType));
    const first = records[0];
    if (first !== undefined) {
      this.instruments.publishDuration.record(
        (performance.now() - started) / 1000,
        this.publishAttributes.get(first.topic, errorType),
      );
    }
  }
}
