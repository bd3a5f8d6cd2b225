import { createTraceState, type SpanContext } from '@opentelemetry/api';

// version-traceid-parentid-flags, lower-case hex (W3C Trace Context, level 1). Later versions may
// append fields after a dash, which a version-00 parser ignores.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-|$)/;
const ZERO_TRACE_ID = '00000000000000000000000000000000';
const ZERO_SPAN_ID = '0000000000000000';

/**
 * Reads a W3C `traceparent` (and `tracestate`) into a remote span context; `undefined` when the
 * value is missing or malformed, so a bad header starts a new trace rather than failing the message.
 *
 * The envelope's `traceparent`/`tracestate` attributes are W3C Trace Context by definition
 * (CloudEvents distributed tracing extension), so Tidings reads and writes them itself instead of
 * going through the global propagator: the trace crosses the broker even when the application
 * registered no propagator, or one for another format.
 *
 * @example
 * ```ts
 * // Link a span of your own to the event a dead-letter consumer is looking at.
 * const origin = parseTraceparent(event.traceparent, event.tracestate);
 * tracer.startSpan('replay order', { links: origin === undefined ? [] : [{ context: origin }] });
 * ```
 */
export function parseTraceparent(
  traceparent: string | undefined,
  tracestate: string | undefined,
): SpanContext | undefined {
  if (traceparent === undefined) return undefined;
  const match = TRACEPARENT.exec(traceparent.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === 'ff' || (version === '00' && rest === '-')) return undefined;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  const context: SpanContext = {
    traceId: traceId!,
    spanId: spanId!,
    traceFlags: Number.parseInt(flags!, 16),
    isRemote: true,
  };
  if (tracestate !== undefined && tracestate.length > 0) context.traceState = createTraceState(tracestate);
  return context;
}

/**
 * Writes a span context as a W3C `traceparent` value.
 *
 * @example
 * ```ts
 * // Publish with the context of a span you hold rather than the active one.
 * await bus.publish(OrderPlaced, data, { traceparent: formatTraceparent(span.spanContext()) });
 * ```
 */
export function formatTraceparent(context: SpanContext): string {
  const flags = context.traceFlags & 0xff;
  return `00-${context.traceId}-${context.spanId}-${flags < 16 ? '0' : ''}${flags.toString(16)}`;
}

/** @internal The `tracestate` value of a span context, or `undefined` when it has none. */
export function formatTracestate(context: SpanContext): string | undefined {
  const value = context.traceState?.serialize();
  return value === undefined || value.length === 0 ? undefined : value;
}
