import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { ConfigError } from '../errors';

/**
 * OpenTelemetry settings of a bus (`createBus({ telemetry })`). Traces and metrics are on by
 * default and go through the global providers of `@opentelemetry/api`, which do nothing until an
 * SDK registers itself: without one, the bus pays next to nothing.
 *
 * @example
 * ```ts
 * // Default: the global providers, set up by the OpenTelemetry NodeSDK at start-up.
 * const bus = createBus({ source: 'order-service' });
 * // Providers of its own, e.g. in a test or beside another instrumented library:
 * const tracedBus = createBus({ source: 'order-service', telemetry: { tracerProvider, meterProvider } });
 * // Nothing at all:
 * const quietBus = createBus({ source: 'order-service', telemetry: false });
 * ```
 */
export interface TelemetryOptions {
  /** Record `publish`/`create`/`process` spans and carry the trace context in the envelope. Default true. */
  readonly traces?: boolean;
  /** Record the bus's metrics (see `METRIC_NAMES`). Default true. */
  readonly metrics?: boolean;
  /** Where spans go. Default: the global provider, `trace.getTracerProvider()`. */
  readonly tracerProvider?: TracerProvider;
  /**
   * Where metrics go. Default: the global provider, `metrics.getMeterProvider()`, looked up when
   * the bus is created and again at `start()`; register the metrics SDK before `start()`.
   */
  readonly meterProvider?: MeterProvider;
}

/** @internal Telemetry settings with defaults applied. */
export interface ResolvedTelemetryOptions {
  readonly traces: boolean;
  readonly metrics: boolean;
  readonly tracerProvider: TracerProvider | undefined;
  readonly meterProvider: MeterProvider | undefined;
}

/** @internal Fills in defaults and checks the `telemetry` option. */
export function resolveTelemetryOptions(
  options: TelemetryOptions | false | undefined,
  field = 'telemetry',
): ResolvedTelemetryOptions {
  if (options === false) {
    return { traces: false, metrics: false, tracerProvider: undefined, meterProvider: undefined };
  }
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new ConfigError(field, 'must be an object of telemetry settings, or false');
  }
  const { traces = true, metrics = true, tracerProvider, meterProvider } = options ?? {};
  if (typeof traces !== 'boolean') throw new ConfigError(`${field}.traces`, 'must be a boolean');
  if (typeof metrics !== 'boolean') throw new ConfigError(`${field}.metrics`, 'must be a boolean');
  if (tracerProvider !== undefined && typeof tracerProvider.getTracer !== 'function') {
    throw new ConfigError(`${field}.tracerProvider`, 'must be an OpenTelemetry TracerProvider');
  }
  if (meterProvider !== undefined && typeof meterProvider.getMeter !== 'function') {
    throw new ConfigError(`${field}.meterProvider`, 'must be an OpenTelemetry MeterProvider');
  }
  return { traces, metrics, tracerProvider, meterProvider };
}
