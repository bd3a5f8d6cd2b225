/**
 * NestJS module for Tidings: the bus as an injectable, handlers declared on providers, lifecycle, health and the outbox relay.
 *
 * @module @tidings/nestjs
 */
// The public API of @tidings/nestjs.

export type { TidingsHealthOptions, TidingsHealthResult, TidingsHealthSubscription } from './health';
export { TidingsHealthIndicator } from './health';
export { createNestLogger } from './logger';
export { TidingsModule } from './module';
export type {
  TidingsModuleAsyncOptions,
  TidingsModuleOptions,
  TidingsOptionsFactory,
  TidingsOutboxOptions,
  TidingsRootOptions,
} from './options';
export type { SubscribeBatchHandlerOptions, SubscribeHandlerOptions } from './subscribe';
export { Subscribe, SubscribeBatch } from './subscribe';
export {
  DEFAULT_BUS_NAME,
  getBusToken,
  getOutboxToken,
  getRelayToken,
  InjectBus,
  InjectOutbox,
  InjectRelay,
  TidingsBus,
} from './tokens';
