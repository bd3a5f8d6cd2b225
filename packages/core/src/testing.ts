/**
 * A harness for applications' own tests: a recording test bus.
 *
 * @module @tidings/core/testing
 */
// '@tidings/core/testing': a harness for applications' own tests.

export type {
  DeliveryOutcome,
  DeliveryQuery,
  RecordedDelivery,
  RecordedPublish,
  TestBus,
  TestBusOptions,
  WaitOptions,
} from './testing/harness';
export { createTestBus } from './testing/harness';
