import { createTraceState, type SpanContext } from '@opentelemetry/api';

// version-traceid-parentid-flags: 2, 32, 16 and 2 lower-case hex digits (W3C Trace Context,
// level 1). Later versions may append fields after a dash, which a version-00 reader ignores.
const LENGTH = 55;
const ZERO_TRACE_ID = '00000000000000000000000000000000';
const ZERO_SPAN_ID = '0000000000000000';

// Checked by character codes rather than a regular expression: this runs for every record a
// traced consumer receives, and showed in profiles.
function isLowerHex(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 97 && code <= 102);
}

function wellFormed(value: string): boolean {
  if (value.length < LENGTH || (value.length > LENGTH && value.charCodeAt(LENGTH) !== 45)) return false;
  for (let i = 0; i < LENGTH; i++) {
    const code = value.charCodeAt(i);
    if (i === 2 || i === 35 || i === 52) {
      if (code !== 45) return false;
    } else if (!isLowerHex(code)) return false;
  }
  return true;
}

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
  const value = traceparent.trim();
  if (!wellFormed(value)) return undefined;
  const version = value.slice(0, 2);
  if (version === 'ff' || (version === '00' && value.length !== LENGTH)) return undefined;
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  const context: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(value.slice(53, 55), 16),
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
