import type { BrokerAdapter, OutgoingRecord } from '../adapters/contract';
import { SafeLogger, silentLogger } from '../logging/logger';
import { resolveTelemetryOptions, type TelemetryOptions } from './options';
import { BusTelemetry } from './telemetry';

/** Sends records that `bus.prepare()` encoded earlier. */
export type PreparedPublisher = (records: readonly OutgoingRecord[]) => Promise<void>;

/**
 * Wraps `adapter.publish` for an outbox relay: each call is a `publish` span that links to the
 * creation context every record carries from `bus.prepare()` (and joins that trace when all the
 * records come from one), and is counted in `messaging.client.sent.messages`. The consumers'
 * `process` spans are children of the same creation contexts, so the trace of the request that
 * wrote the events runs on through the relay to every consumer.
 *
 * @example
 * ```ts
 * const send = createPreparedPublisher(bus.adapter);
 * const { records } = await bus.prepare([batchEntry(OrderPlaced, order)]); // inside the request
 * // ...later, in the relay:
 * await send(records);
 * ```
 */
export function createPreparedPublisher(
  adapter: BrokerAdapter,
  options?: TelemetryOptions | false,
): PreparedPublisher {
  const telemetry = new BusTelemetry(resolveTelemetryOptions(options), adapter, new SafeLogger(silentLogger));
  const send = (records: readonly OutgoingRecord[]) => adapter.publish(records);
  return (records) => telemetry.sendPrepared(records, send);
}
