// What TidingsModule.forRoot and forRootAsync take, and how they become a bus.
import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency, Type } from '@nestjs/common';
import type { BrokerAdapter, Bus, BusOptions, Logger, OutboxRelayOptions, OutboxStore } from '@tidings/core';

/**
 * The outbox a bus owns: the module makes the store with the bus (so that it encodes events as
 * that bus does), injects it with `@InjectOutbox()`, and runs a relay from it in this process.
 *
 * @example
 * ```ts
 * import { createPostgresOutbox } from '@tidings/outbox-postgres';
 * import type { TidingsOutboxOptions } from '@tidings/nestjs';
 * import pg from 'pg';
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const outbox: TidingsOutboxOptions = {
 *   store: (bus) => createPostgresOutbox({ pool, bus }),
 *   relay: { batchSize: 200 },
 * };
 * ```
 */
export interface TidingsOutboxOptions {
  /** Makes the outbox store for the module's bus. */
  readonly store: (bus: Bus) => OutboxStore;
  /**
   * Settings of the relay the module runs (started after the bus, stopped on shutdown), or
   * `false` to run no relay in this process (one runs elsewhere). Default: a relay with the core's
   * defaults, whose failures are logged through the module's logger.
   */
  readonly relay?: Omit<OutboxRelayOptions, 'store' | 'bus' | 'adapter' | 'signal'> | false;
}

/**
 * The settings of a bus made by `TidingsModule`: `@tidings/core`'s {@link BusOptions}, with an
 * adapter that may be given as a factory, Nest's logger by default, and an optional outbox.
 *
 * @example
 * ```ts
 * import { createNatsAdapter } from '@tidings/adapter-nats';
 * import type { TidingsModuleOptions } from '@tidings/nestjs';
 *
 * const options: TidingsModuleOptions = {
 *   source: 'order-service',
 *   adapter: () => createNatsAdapter({ servers: 'nats://127.0.0.1:4222' }),
 *   subscriptionDefaults: { retry: { maxAttempts: 8 } },
 *   drainTimeoutMs: 10_000,
 * };
 * ```
 */
export interface TidingsModuleOptions extends Omit<BusOptions, 'adapter' | 'logger'> {
  /**
   * The broker adapter, or a function that makes it when Nest instantiates the module's
   * providers (so that importing the module's file connects to nothing). Default: the in-memory
   * broker.
   */
  readonly adapter?: BrokerAdapter | (() => BrokerAdapter);
  /**
   * Where the bus logs (handler failures, retries, dead letters, connection changes). Default:
   * Nest's `Logger` with the context `Tidings`. A pino logger fits as it is; `silentLogger` from
   * `@tidings/core` writes nothing.
   */
  readonly logger?: Logger;
  /** An outbox made with the bus, and its relay. */
  readonly outbox?: TidingsOutboxOptions;
}

/**
 * What `TidingsModule.forRoot` takes: the bus's settings, and its name when the application has
 * several buses.
 *
 * @example
 * ```ts
 * import { TidingsModule, type TidingsRootOptions } from '@tidings/nestjs';
 *
 * const audit: TidingsRootOptions = { name: 'audit', source: 'order-service/audit' };
 * export const AuditBusModule = TidingsModule.forRoot(audit);
 * ```
 */
export interface TidingsRootOptions extends TidingsModuleOptions {
  /**
   * The bus's name, for `@InjectBus(name)` and `@Subscribe(..., { bus: name })` (or
   * `@SubscribeBatch`). Default `default`.
   */
  readonly name?: string;
}

/**
 * A class that makes the module's options, for `forRootAsync({ useClass })`.
 *
 * @example
 * ```ts
 * import { Injectable } from '@nestjs/common';
 * import type { TidingsModuleOptions, TidingsOptionsFactory } from '@tidings/nestjs';
 *
 * @Injectable()
 * export class TidingsConfig implements TidingsOptionsFactory {
 *   createTidingsOptions(): TidingsModuleOptions {
 *     return { source: process.env.SERVICE_NAME ?? 'order-service' };
 *   }
 * }
 * ```
 */
export interface TidingsOptionsFactory {
  createTidingsOptions(): TidingsModuleOptions | Promise<TidingsModuleOptions>;
}

/**
 * What `TidingsModule.forRootAsync` takes: the bus's name, and one way to make its options
 * (`useFactory` with `inject`, `useClass` or `useExisting`), with the modules that provide what
 * it needs.
 *
 * @example
 * ```ts
 * import { ConfigModule, ConfigService } from '@nestjs/config';
 * import { createNatsAdapter } from '@tidings/adapter-nats';
 * import { TidingsModule } from '@tidings/nestjs';
 *
 * export const BusModule = TidingsModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({
 *     source: 'order-service',
 *     adapter: () => createNatsAdapter({ servers: config.getOrThrow<string>('NATS_URL') }),
 *   }),
 * });
 * ```
 */
export interface TidingsModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** The bus's name. Default `default`. */
  readonly name?: string;
  // biome-ignore lint/suspicious/noExplicitAny: Nest passes the injected values by position, typed by the factory itself.
  readonly useFactory?: (...args: any[]) => TidingsModuleOptions | Promise<TidingsModuleOptions>;
  readonly inject?: (InjectionToken | OptionalFactoryDependency)[];
  readonly useClass?: Type<TidingsOptionsFactory>;
  readonly useExisting?: Type<TidingsOptionsFactory>;
}
