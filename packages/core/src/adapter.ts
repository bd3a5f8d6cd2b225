// '@tidings/core/adapter': what an adapter author needs beyond the public API.

export type { DispatcherOptions } from './adapters/dispatcher';
export { KeyedDispatcher } from './adapters/dispatcher';
export type {
  AckSettlement,
  AdapterCapabilities,
  AdapterSubscription,
  BrokerAdapter,
  CloseOptions,
  ConnectionState,
  DeadLetterSettlement,
  IncomingRecord,
  OutgoingRecord,
  RecordHandler,
  RecordHeaders,
  RetrySettlement,
  Settlement,
  StartPosition,
  SubscribeSpec,
  SubscriptionState,
} from './adapters/types';
export { DEAD_LETTER_HEADERS, RETRY_HEADERS } from './adapters/types';
export {
  CONTENT_TYPE_HEADER,
  isEnvelopeHeader,
  readBinaryAttributes,
  STRUCTURED_CONTENT_TYPE,
} from './envelope/envelope';
export {
  ClosedError,
  ConfigError,
  ConnectionError,
  MessageTooLargeError,
  PublishError,
  TidingsError,
  TimeoutError,
  toError,
} from './errors';
export { whenAborted } from './internal/abort';
export { checkInteger, definedOnly } from './internal/options';
export type { ConnectionStateReporter } from './logging/connection-events';
export type { ConsumerLag, ConsumerLagReporter } from './tracing/lag';
