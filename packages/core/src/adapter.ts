/**
 * What an adapter author needs beyond the public API: the record and settlement types, header names and the kit adapters share.
 *
 * @module @tidings/core/adapter
 */
// '@tidings/core/adapter': what an adapter author needs beyond the public API.

export type {
  AckSettlement,
  AdapterCapabilities,
  AdapterOperations,
  AdapterSubscription,
  BrokerAdapter,
  CloseOptions,
  ConnectionState,
  DeadLetterSettlement,
  IncomingRecord,
  LandedDeadLetter,
  OperationSupport,
  OutgoingRecord,
  RecordHandler,
  RecordHeaders,
  RetrySettlement,
  Settlement,
  SettlementObserver,
  StartPosition,
  SubscribeSpec,
  SubscriptionState,
  TopicRule,
} from './adapters/contract';
export { DEAD_LETTER_HEADERS, RETRY_HEADERS } from './adapters/contract';
export { attemptOf } from './adapters/kit/attempts';
export type { DeadLetterLimits, FittedDeadLetter } from './adapters/kit/dead-letter-fit';
export { fitDeadLetter } from './adapters/kit/dead-letter-fit';
export type { DispatcherOptions } from './adapters/kit/dispatcher';
export { KeyedDispatcher } from './adapters/kit/dispatcher';
export type { OptionNames } from './adapters/kit/option-names';
export { checkOptionNames } from './adapters/kit/option-names';
export { checkOutgoing } from './adapters/kit/records';
export {
  addressedGroup,
  addressTo,
  REDRIVE_GROUP_HEADER,
  recordForGroup,
  redriveHeaders,
} from './adapters/kit/redrive';
export { RepeatedText } from './adapters/kit/repeated-text';
export { isSettlement, RETRY_NOW, settlementHeaders, settlementOf } from './adapters/kit/settlement';
export { checkSubscribeSpec } from './adapters/kit/spec';
export { sleep, withTimeout } from './adapters/kit/timers';
export { ANY_TOPIC, topicProblem } from './adapters/kit/topic-rule';
export type {
  DeadLetterLocation,
  DeadLetterPage,
  DeadLetterStore,
  HistoryReplay,
  RedriveOutcome,
  ReplayFrom,
  StoredDeadLetter,
} from './adapters/operations';
export type {
  ConnectionStateReporter,
  ConsumerLag,
  ConsumerLagReporter,
  GroupAdmin,
  GroupDescription,
} from './adapters/optional';
export {
  CONTENT_TYPE_HEADER,
  isEnvelopeHeader,
  readBinaryAttributes,
  STRUCTURED_CONTENT_TYPE,
} from './envelope/envelope';
export {
  CapabilityUnavailableError,
  ClosedError,
  ConfigError,
  ConnectionError,
  EncodeError,
  MessageTooLargeError,
  PublishError,
  TidingsError,
  TimeoutError,
  toError,
} from './errors';
export { whenAborted } from './internal/abort';
export { checkInteger, definedOnly } from './internal/options';
export type { Redactor } from './internal/redact';
export { createRedactor, REDACTED, redactUrl, redactUrls } from './internal/redact';
