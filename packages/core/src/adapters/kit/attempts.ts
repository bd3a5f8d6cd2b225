import { RETRY_HEADERS, type RecordHeaders } from '../contract';

/**
 * The attempt number of a delivered record, by the one rule every adapter follows:
 *
 * - the `tidings-attempt` header says which attempt a re-published record was made for (the core
 *   writes it into every retry; a record that never failed has none, and counts as attempt 1);
 * - a broker that counts deliveries adds the deliveries of this copy beyond its first (a copy
 *   redelivered after its consumer died unsettled rises above the header);
 * - a broker that counts nothing passes no count, and the header alone decides.
 *
 * So: `attempt = header (or 1) + (deliveries − 1)`. An adapter whose broker redelivers the same
 * copy for a retry (no re-publish, so no header) gets the broker's count; one that re-publishes
 * gets the header, raised by crashes. A malformed header counts as absent.
 *
 * @example
 * ```ts
 * attemptOf(record.headers);                      // Kafka: no delivery count
 * attemptOf(headers, message.info.deliveryCount); // JetStream
 * attemptOf(headers, xDeliveryCount + 1);         // RabbitMQ quorum queues count earlier deliveries
 * ```
 */
export function attemptOf(headers: RecordHeaders, deliveries?: number): number {
  const written = Number(headers[RETRY_HEADERS.attempt]);
  const base = Number.isSafeInteger(written) && written >= 1 ? written : 1;
  const counted =
    deliveries !== undefined && Number.isSafeInteger(deliveries) && deliveries >= 1 ? deliveries : 1;
  return base + counted - 1;
}
