/**
 * Typed event contracts, CloudEvents envelope, event bus, delivery policies and an in-memory broker for event-driven Node backends.
 *
 * @module @tidings/core
 */
// The public API of @tidings/core. What only adapter authors need is in '@tidings/core/adapter';
// the test harness is in '@tidings/core/testing'.

export type {
  AdapterCapabilities,
  AdapterOperations,
  BrokerAdapter,
  ConnectionState,
  IncomingRecord,
  LandedDeadLetter,
  OperationSupport,
  OutgoingRecord,
  Settlement,
  SettlementObserver,
  StartPosition,
  TopicRule,
} from './adapters/contract';
export type { MemoryAdapterOptions } from './adapters/memory/adapter';
export { createMemoryAdapter, memoryCapabilities } from './adapters/memory/adapter';
export type { MemoryBrokerOptions, MemoryGroupStats } from './adapters/memory/broker';
export { createMemoryBroker, MemoryBroker } from './adapters/memory/broker';
export type {
  DeadLetterLocation,
  DeadLetterPage,
  DeadLetterStore,
  HistoryReplay,
  RedriveOutcome,
  ReplayFrom,
  StoredDeadLetter,
} from './adapters/operations';
// Observability: OpenTelemetry traces and metrics, and the logger interface.
export type {
  ConnectionStateReporter,
  ConsumerLag,
  ConsumerLagReporter,
  GroupAdmin,
  GroupDescription,
} from './adapters/optional';
export type { BatchContext, BatchHandler, BatchOptions } from './bus/batch';
export { createBus } from './bus/bus';
export type {
  BatchSubscribeOptions,
  Bus,
  BusHealth,
  BusOptions,
  EventsOf,
  SubscribeOptions,
  SubscriptionDefaults,
  TopicNamer,
} from './bus/options';
export type {
  ReportedError,
  Subscription,
  SubscriptionHealth,
  SubscriptionStatus,
} from './bus/subscription';
export type { EventOf, Handler, MessageContext, ReceivedEvent } from './context/delivery';
export type {
  BatchEntry,
  EventDraft,
  PublishContext,
  PublishedEvent,
  PublishMiddleware,
  PublishOptions,
} from './context/publish';
export { batchEntry } from './context/publish';
export type {
  AnyEventContract,
  EventContract,
  EventData,
  EventInput,
  JsonEventDefinition,
  StandardEventDefinition,
  Upcaster,
} from './contracts/define-event';
export { defineEvent } from './contracts/define-event';
export type { ContractJsonSchema, ContractJsonSchemaOptions } from './contracts/json-schema';
export { contractJsonSchema } from './contracts/json-schema';
export type { ContractSchema, JsonSchemaData, JsonSchemaInput, JsonSchemaObject } from './contracts/schema';
export type { Codec } from './envelope/codec';
export { jsonCodec } from './envelope/codec';
export { encodeEnvelope } from './envelope/encode';
export type { DecodeEnvelopeOptions, Envelope, EnvelopeAttributes } from './envelope/envelope';
export { decodeEnvelope } from './envelope/envelope';
export { uuidv7, uuidv7Time } from './envelope/uuid';
export type { TidingsErrorCode, TidingsErrorOptions, ValidationIssue } from './errors';
export {
  CapabilityUnavailableError,
  ClosedError,
  ConfigError,
  ConnectionError,
  DeadLetterNotFoundError,
  DecodeError,
  EncodeError,
  HandlerError,
  isTidingsError,
  MessageTooLargeError,
  NonRetryableError,
  PublishError,
  TidingsError,
  TimeoutError,
  UnknownEventTypeError,
  ValidationError,
} from './errors';
export type { MemoryIdempotencyStoreOptions } from './idempotency/memory-store';
export { createMemoryIdempotencyStore } from './idempotency/memory-store';
export type { ClaimResult, IdempotencyStore } from './idempotency/store';
export type { LogFields, Logger, LogLevel, LogMethod } from './logging/logger';
export { silentLogger } from './logging/logger';
export type { ConcurrencyLimitOptions } from './middleware/concurrency';
export { concurrencyLimit } from './middleware/concurrency';
export type { Middleware, Next } from './middleware/types';
export type {
  ApplicationDescription,
  ProducerDeclaration,
  SubscriptionDeclaration,
} from './operations/application';
export { topicOfContract } from './operations/application';
export { deadLetterJson } from './operations/json';
export { createOperator } from './operations/operator';
export type {
  BrowseOptions,
  DeadLetter,
  DeadLetterFailure,
  DeadLetterListPage,
  DeadLetterSelection,
  DecodedRecord,
  FollowedRecord,
  Following,
  FollowOptions,
  Operator,
  OperatorOptions,
  PurgeOptions,
  RecordToDecode,
  RedriveOptions,
  RedriveProgress,
  RedriveReport,
} from './operations/types';
export { FOLLOW_GROUP_PREFIX } from './operations/types';
export type { MemoryOutbox, MemoryOutboxOptions } from './outbox/memory-outbox';
export { createMemoryOutbox } from './outbox/memory-outbox';
export type {
  OutboxBackoffOptions,
  OutboxRelay,
  OutboxRelayErrorContext,
  OutboxRelayOptions,
  OutboxRelayState,
  OutboxRelayStats,
} from './outbox/relay';
export { createOutboxRelay } from './outbox/relay';
export type {
  OutboxClaim,
  OutboxRecord,
  OutboxSettlement,
  OutboxStats,
  OutboxStore,
  OutboxWatch,
} from './outbox/store';
export type { DeadLetterTopicNamer } from './policies/dead-letter';
export { defaultDeadLetterTopic } from './policies/dead-letter';
export type { IdempotencyOptions } from './policies/idempotency';
export { DuplicateInProgressError } from './policies/idempotency';
export type { RetryOptions } from './policies/retry';
export { backoffDelay, defaultRetryable } from './policies/retry';
export { METRIC_NAMES } from './tracing/names';
export type { TelemetryOptions } from './tracing/options';
export type { PreparedPublisher } from './tracing/prepared-publisher';
export { createPreparedPublisher } from './tracing/prepared-publisher';
export { formatTraceparent, parseTraceparent } from './tracing/trace-context';
