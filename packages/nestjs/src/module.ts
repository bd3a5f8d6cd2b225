// TidingsModule: one bus per forRoot / forRootAsync, global, with its lifecycle, its outbox and
// relay, and the health indicator. Every provider here names its injection tokens, so the module
// works whether or not the application's compiler emits decorator metadata.
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService } from '@nestjs/core';
import {
  type Bus,
  ConfigError,
  createBus,
  createOutboxRelay,
  type Logger,
  type OutboxRelay,
  type OutboxStore,
} from '@tidings/core';
import { TidingsHealthIndicator } from './health';
import { BusHost } from './lifecycle';
import { createNestLogger } from './logger';
import type {
  TidingsModuleAsyncOptions,
  TidingsModuleOptions,
  TidingsOptionsFactory,
  TidingsRootOptions,
} from './options';
import {
  DEFAULT_BUS_NAME,
  getBusToken,
  getHostToken,
  getOptionsToken,
  getOutboxToken,
  getRelayToken,
} from './tokens';

/** @internal What the options provider holds: the options and the logger made from them. */
interface ResolvedOptions {
  readonly options: TidingsModuleOptions;
  readonly logger: Logger;
}

/**
 * The Tidings module: makes a bus from the options, provides it (as `TidingsBus`, or under
 * `@InjectBus(name)`) to the whole application, subscribes the `@Subscribe` and `@SubscribeBatch`
 * handlers of every provider once the application has initialised, and drains and closes the bus
 * when it shuts down. Import it once per bus, in the root module.
 *
 * @example
 * ```ts
 * import { Module } from '@nestjs/common';
 * import { createNatsAdapter } from '@tidings/adapter-nats';
 * import { TidingsModule } from '@tidings/nestjs';
 *
 * @Module({
 *   imports: [
 *     TidingsModule.forRoot({
 *       source: 'order-service',
 *       adapter: () => createNatsAdapter({ servers: process.env.NATS_URL ?? '127.0.0.1:4222' }),
 *     }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: Nest's dynamic modules are classes with static factories.
export class TidingsModule {
  /** A bus from options known when the module is declared. */
  static forRoot(options: TidingsRootOptions): DynamicModule {
    if (typeof options !== 'object' || options === null) {
      throw new ConfigError(
        'options',
        'TidingsModule.forRoot needs the bus options, e.g. { source: "order-service" }',
      );
    }
    const { name = DEFAULT_BUS_NAME, ...busOptions } = options;
    checkName(name);
    return assemble(name, [{ provide: getOptionsToken(name), useFactory: () => resolve(busOptions) }], []);
  }

  /**
   * A bus whose options come from other providers (a `ConfigService`, a database pool): through
   * `useFactory` and `inject`, `useClass` or `useExisting`.
   */
  static forRootAsync(options: TidingsModuleAsyncOptions): DynamicModule {
    const name = options?.name ?? DEFAULT_BUS_NAME;
    checkName(name);
    const token = getOptionsToken(name);
    const ways = [options.useFactory, options.useClass, options.useExisting].filter(
      (way) => way !== undefined,
    );
    if (ways.length !== 1) {
      throw new ConfigError(
        'forRootAsync',
        'give exactly one of useFactory (with inject), useClass or useExisting',
      );
    }
    const providers: Provider[] = [];
    if (options.useFactory !== undefined) {
      const factory = options.useFactory;
      providers.push({
        provide: token,
        useFactory: async (...args: unknown[]) => resolve(await factory(...args)),
        inject: options.inject ?? [],
      });
    } else {
      const factoryClass = (options.useClass ?? options.useExisting)!;
      if (options.useClass !== undefined) providers.push({ provide: factoryClass, useClass: factoryClass });
      providers.push({
        provide: token,
        useFactory: async (factory: TidingsOptionsFactory) => resolve(await factory.createTidingsOptions()),
        inject: [factoryClass],
      });
    }
    return assemble(name, providers, options.imports ?? []);
  }
}

function checkName(name: unknown): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ConfigError('name', 'a bus name must be a non-empty string');
  }
}

function resolve(options: TidingsModuleOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('options', 'the options factory returned no options');
  }
  return { options, logger: options.logger ?? createNestLogger() };
}

// Each forRoot call is a module of its own, as Nest 11 and later treat dynamic modules. Nest 10
// merges dynamic modules whose metadata serialises alike, and the options hide in closures: two
// calls for one bus name would silently become one. With an id in the metadata they stay two, and
// the bootstrap refuses them by name.
let modulesMade = 0;

function assemble(
  name: string,
  optionsProviders: Provider[],
  imports: DynamicModule['imports'],
): DynamicModule {
  const instance = { provide: `TidingsModuleInstance:${name}:${++modulesMade}`, useValue: modulesMade };
  const optionsToken = getOptionsToken(name);
  const busToken = getBusToken(name);
  const outboxToken = getOutboxToken(name);
  const relayToken = getRelayToken(name);
  return {
    module: TidingsModule,
    global: true,
    imports: [DiscoveryModule, ...(imports ?? [])],
    providers: [
      instance,
      ...optionsProviders,
      {
        provide: busToken,
        useFactory: ({ options, logger }: ResolvedOptions): Bus => {
          const { adapter, outbox: _outbox, ...busOptions } = options;
          return createBus({
            ...busOptions,
            logger,
            ...(adapter === undefined
              ? {}
              : { adapter: typeof adapter === 'function' ? adapter() : adapter }),
          });
        },
        inject: [optionsToken],
      },
      {
        provide: outboxToken,
        useFactory: ({ options }: ResolvedOptions, bus: Bus): OutboxStore | null =>
          options.outbox === undefined ? null : options.outbox.store(bus),
        inject: [optionsToken, busToken],
      },
      {
        provide: relayToken,
        useFactory: (
          { options, logger }: ResolvedOptions,
          bus: Bus,
          store: OutboxStore | null,
        ): OutboxRelay | null => {
          const relay = options.outbox?.relay;
          if (store === null || relay === false) return null;
          return createOutboxRelay({
            onError: (error, { during, records }) =>
              logger.warn(
                { bus: name, during, records: records.length, err: error },
                `outbox relay of bus "${name}": ${error.message}`,
              ),
            ...relay,
            store,
            bus,
          });
        },
        inject: [optionsToken, busToken, outboxToken],
      },
      {
        provide: getHostToken(name),
        useFactory: (
          { logger }: ResolvedOptions,
          bus: Bus,
          relay: OutboxRelay | null,
          discovery: DiscoveryService,
        ) => new BusHost(name, bus, relay, discovery, logger),
        inject: [optionsToken, busToken, relayToken, DiscoveryService],
      },
      TidingsHealthIndicator,
    ],
    exports: [busToken, outboxToken, relayToken, TidingsHealthIndicator],
  };
}
