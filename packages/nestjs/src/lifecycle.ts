// One bus's life in the application: its handlers subscribed and the bus started once every
// module is initialised; on shutdown, the handlers drained first (publishing still works), the
// bus closed last.
import type { OnApplicationBootstrap, OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import { type Bus, ConfigError, type Logger, type OutboxRelay, type Subscription } from '@tidings/core';
import { checkBusNames, checkGroups, discoverHandlers } from './discovery';

/** @internal Runs one bus: one per `TidingsModule.forRoot`, under the token `getHostToken(name)`. */
export class BusHost implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  private readonly subscriptions: Subscription[] = [];

  constructor(
    readonly name: string,
    private readonly bus: Bus,
    private readonly relay: OutboxRelay | null,
    private readonly discovery: DiscoveryService,
    private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const handlers = discoverHandlers(this.discovery);
    checkBusNames(handlers, this.busNames());
    const mine = handlers.filter((handler) => handler.bus === this.name);
    checkGroups(mine, this.bus);
    for (const handler of mine) {
      const { instance, methodName } = handler;
      // Looked up at each call, so that a spy or a wrapper put on the instance later is called.
      const call = (...args: unknown[]): unknown =>
        (instance[methodName] as (...args: unknown[]) => unknown).apply(instance, args);
      const subscription =
        handler.kind === 'batch'
          ? this.bus.subscribeBatch(handler.contracts, handler.options, call)
          : this.bus.subscribe(handler.contracts, handler.options, call);
      this.subscriptions.push(subscription);
    }
    await this.bus.start();
    if (this.relay !== null) await this.relay.start();
    this.logger.info(
      { bus: this.name, handlers: mine.map((handler) => handler.label) },
      `bus "${this.name}" started with ${mine.length} handler${mine.length === 1 ? '' : 's'}`,
    );
  }

  /**
   * The first step of shutdown: no new events, running handlers finish (up to the bus's drain
   * timeout), the relay finishes its batch. The bus stays open, so that handlers and requests
   * still being answered can publish.
   */
  async onModuleDestroy(): Promise<void> {
    await Promise.all([this.relay?.stop(), ...this.subscriptions.map((subscription) => subscription.stop())]);
  }

  /** The last step, after Nest has closed the HTTP server: the bus stops and disconnects. */
  async onApplicationShutdown(): Promise<void> {
    await this.bus.stop();
  }

  private busNames(): Set<string> {
    const names = new Set<string>();
    const hosts = new Set<BusHost>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as unknown;
      if (!(instance instanceof BusHost) || hosts.has(instance)) continue;
      hosts.add(instance);
      if (names.has(instance.name)) {
        throw new ConfigError(
          'name',
          `two TidingsModule.forRoot calls make the bus "${instance.name}"; give each bus its own name`,
        );
      }
      names.add(instance.name);
    }
    return names;
  }
}
