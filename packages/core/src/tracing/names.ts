// Names from the OpenTelemetry semantic conventions (messaging, CloudEvents, errors). They are
// written out here rather than imported: the conventions package is not a dependency of core, and
// the messaging ones are still in development upstream, so pinning the strings keeps our output
// stable until we choose to move.

/** @internal Span and span-event attribute names. */
export const ATTR = {
  system: 'messaging.system',
  destination: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  messageId: 'messaging.message.id',
  conversationId: 'messaging.message.conversation_id',
  bodySize: 'messaging.message.body.size',
  consumerGroup: 'messaging.consumer.group.name',
  batchCount: 'messaging.batch.message_count',
  eventType: 'cloudevents.event_type',
  eventSource: 'cloudevents.event_source',
  errorType: 'error.type',
  // No convention names the delivery attempt across brokers (only per system, e.g. Pub/Sub's
  // `messaging.gcp_pubsub.message.delivery_attempt`), so these live in our own namespace.
  attempt: 'tidings.delivery.attempt',
  position: 'tidings.message.position',
  settlement: 'tidings.settlement',
  duplicate: 'tidings.duplicate',
  retryDelay: 'tidings.retry.delay_ms',
  nextAttempt: 'tidings.retry.next_attempt',
  deadLetterReason: 'tidings.dead_letter.reason',
  deadLetterDestination: 'tidings.dead_letter.destination',
} as const;

/** @internal Names of the span events the bus records. */
export const SPAN_EVENT = {
  retry: 'tidings.retry_scheduled',
  deadLetter: 'tidings.dead_lettered',
} as const;

/**
 * Names of the metrics the bus records. The `messaging.*` ones follow the OpenTelemetry messaging
 * semantic conventions, so dashboards made for them work; the `tidings.*` ones have no convention.
 *
 * @example
 * ```ts
 * // An alert on dead letters, in PromQL (dots become underscores in Prometheus):
 * // sum by (messaging_consumer_group_name) (rate(tidings_consumer_dead_lettered_messages_total[5m])) > 0
 * METRIC_NAMES.deadLettered; // 'tidings.consumer.dead_lettered.messages'
 * ```
 */
export const METRIC_NAMES = {
  /** Counter: events the broker accepted from `publish`, `publishBatch` or a relay (`error.type` when it refused them). */
  sent: 'messaging.client.sent.messages',
  /** Histogram, seconds: how long a publish call to the broker took. */
  publishDuration: 'messaging.client.operation.duration',
  /** Counter: deliveries to a consumer group, by `tidings.settlement` (`ack`, `retry`, `dead_letter`). */
  consumed: 'messaging.client.consumed.messages',
  /** Histogram, seconds: how long the pipeline (decode, policies, handler) took for one delivery. */
  processDuration: 'messaging.process.duration',
  /** Counter: deliveries that failed and were scheduled for another attempt. */
  retried: 'tidings.consumer.retried.messages',
  /** Counter: events moved to a dead-letter topic. */
  deadLettered: 'tidings.consumer.dead_lettered.messages',
  /**
   * Histogram, seconds: from the event's `time` to the end of its last delivery to a group (acked
   * or dead-lettered), retries included. Producer and consumer clocks must agree for it to mean much.
   */
  latency: 'tidings.event.latency',
  /** Gauge: events waiting for a consumer group, where the adapter can tell. */
  lag: 'tidings.consumer.lag',
} as const;

/** @internal Name of the tracer and meter: the instrumentation scope. */
export const INSTRUMENTATION_SCOPE = '@tidings/core';
