import { TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { formatTraceparent, formatTracestate, parseTraceparent } from './trace-context';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

describe('W3C trace context', () => {
  it('reads a traceparent and tracestate into a remote span context, and writes them back', () => {
    const parsed = parseTraceparent(
      `00-${TRACE_ID}-${SPAN_ID}-01`,
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    );
    expect(parsed).toMatchObject({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(parsed!.traceState?.get('congo')).toBe('t61rcWkgMzE');
    expect(formatTraceparent(parsed!)).toBe(`00-${TRACE_ID}-${SPAN_ID}-01`);
    expect(formatTracestate(parsed!)).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    const { traceState: _, ...withoutState } = parsed!;
    expect(formatTracestate(withoutState)).toBeUndefined();
    expect(formatTraceparent({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.NONE })).toBe(
      `00-${TRACE_ID}-${SPAN_ID}-00`,
    );
  });

  it('accepts fields a later version appends, and nothing malformed', () => {
    expect(parseTraceparent(`01-${TRACE_ID}-${SPAN_ID}-01-extra`, undefined)?.spanId).toBe(SPAN_ID);
    for (const bad of [
      undefined,
      '',
      `00-${TRACE_ID}-${SPAN_ID}-01-extra`, // version 00 has exactly four fields
      `ff-${TRACE_ID}-${SPAN_ID}-01`,
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
      `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${SPAN_ID}`,
      `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${SPAN_ID.slice(0, 15)}g-01`,
      `00-${TRACE_ID}_${SPAN_ID}-01`,
      `00-${TRACE_ID}-${SPAN_ID}-0X`,
    ]) {
      expect(parseTraceparent(bad, undefined), String(bad)).toBeUndefined();
    }
  });
});
