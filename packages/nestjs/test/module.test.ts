// TidingsModule on the in-memory broker: discovery, `this`, async options, named buses, the
// checks made at bootstrap, the test bus, the outbox relay and the order of shutdown.
// Like every test of this package, it is compiled without decorator metadata (see
// vitest.config.ts), so every injection names its token, as the package's own code does.
import 'reflect-metadata';
import { Inject, Injectable, Module, Scope } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import {
  ClosedError,
  ConfigError,
  createMemoryOutbox,
  type EventOf,
  type EventsOf,
  type MemoryOutbox,
  type MessageContext,
  type OutboxRelay,
  silentLogger,
} from '@tidings/core';
import { createTestBus } from '@tidings/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  getBusToken,
  InjectBus,
  InjectOutbox,
  InjectRelay,
  Subscribe,
  TidingsBus,
  TidingsModule,
  type TidingsModuleOptions,
  type TidingsOptionsFactory,
} from '../src/index';
import { OrderPlaced, OrderShipped } from './support/events';
import { latch, Recorder } from './support/recorder';

type Closable = { close(): Promise<unknown> };
const opened: Closable[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((app) => app.close()));
});

const quiet = { source: 'test', logger: silentLogger } as const;

@Injectable()
class Greeter {
  greet(orderId: string): string {
    return `hello ${orderId}`;
  }
}

@Injectable()
class EmailHandlers {
  readonly recorder = new Recorder();
  constructor(@Inject(Greeter) private readonly greeter: Greeter) {}

  @Subscribe(OrderPlaced, { group: 'email' })
  async onOrderPlaced(event: EventOf<typeof OrderPlaced>, ctx: MessageContext): Promise<void> {
    // `this` is the provider: its injected services are there.
    this.recorder.add(`${this.greeter.greet(event.data.orderId)} (attempt ${ctx.attempt})`);
  }
}

async function boot(metadata: Parameters<typeof Test.createTestingModule>[0]) {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  opened.push(moduleRef);
  await moduleRef.init();
  return moduleRef;
}

describe('TidingsModule', () => {
  it('delivers an event to a @Subscribe method, with `this` being the provider', async () => {
    const app = await boot({ imports: [TidingsModule.forRoot(quiet)], providers: [Greeter, EmailHandlers] });
    const bus = app.get(TidingsBus);
    await bus.publish(OrderPlaced, { orderId: 'o-1', totalCents: 100 });
    expect(await app.get(EmailHandlers).recorder.until(1)).toEqual(['hello o-1 (attempt 1)']);
    expect(bus.health()).toMatchObject({
      status: 'up',
      subscriptions: [{ group: 'email', state: 'running' }],
    });
  });

  it('calls the method the instance has at delivery time, so that spies see the events', async () => {
    const app = await boot({ imports: [TidingsModule.forRoot(quiet)], providers: [Greeter, EmailHandlers] });
    const handlers = app.get(EmailHandlers);
    const spied: string[] = [];
    const original = handlers.onOrderPlaced;
    handlers.onOrderPlaced = async function (this: EmailHandlers, event, ctx) {
      spied.push(event.data.orderId);
      return original.call(this, event, ctx);
    };
    await app.get(TidingsBus).publish(OrderPlaced, { orderId: 'o-2', totalCents: 1 });
    await handlers.recorder.until(1);
    expect(spied).toEqual(['o-2']);
  });

  it('handles several contracts in one method, typed as their union', async () => {
    @Injectable()
    class Timeline {
      readonly recorder = new Recorder();
      @Subscribe([OrderPlaced, OrderShipped], { group: 'timeline' })
      onOrderEvent(event: EventsOf<[typeof OrderPlaced, typeof OrderShipped]>): void {
        if (event.type === 'shop.order.placed') this.recorder.add(`placed ${event.data.totalCents}`);
        else this.recorder.add(`shipped ${event.data.orderId}`);
      }
    }
    const app = await boot({ imports: [TidingsModule.forRoot(quiet)], providers: [Timeline] });
    const bus = app.get(TidingsBus);
    await bus.publish(OrderPlaced, { orderId: 'o-3', totalCents: 42 });
    await app.get(Timeline).recorder.until(1);
    await bus.publish(OrderShipped, { orderId: 'o-3' });
    expect(await app.get(Timeline).recorder.until(2)).toEqual(['placed 42', 'shipped o-3']);
  });

  it('finds handlers on controllers and on classes that inherit them', async () => {
    @Injectable()
    class BaseHandlers {
      readonly recorder = new Recorder();
      @Subscribe(OrderPlaced, { group: 'base' })
      onOrderPlaced(event: EventOf<typeof OrderPlaced>): void {
        this.recorder.add(`${this.label()} ${event.data.orderId}`);
      }
      label(): string {
        return 'base';
      }
    }
    @Injectable()
    class DerivedHandlers extends BaseHandlers {
      override label(): string {
        return 'derived';
      }
    }
    const app = await boot({ imports: [TidingsModule.forRoot(quiet)], providers: [DerivedHandlers] });
    await app.get(TidingsBus).publish(OrderPlaced, { orderId: 'o-4', totalCents: 1 });
    expect(await app.get(DerivedHandlers).recorder.until(1)).toEqual(['derived o-4']);
  });

  it('takes its options from a factory with injected providers (forRootAsync, ConfigService)', async () => {
    const app = await boot({
      imports: [
        TidingsModule.forRootAsync({
          imports: [
            ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ SERVICE_NAME: 'config-service' })] }),
          ],
          inject: [ConfigService],
          useFactory: (config: ConfigService): TidingsModuleOptions => ({
            source: config.getOrThrow<string>('SERVICE_NAME'),
            logger: silentLogger,
          }),
        }),
      ],
      providers: [Greeter, EmailHandlers],
    });
    const bus = app.get(TidingsBus);
    const published = await bus.publish(OrderPlaced, { orderId: 'o-5', totalCents: 1 });
    expect(published.type).toBe('shop.order.placed');
    await app.get(EmailHandlers).recorder.until(1);
  });

  it('takes its options from a class (forRootAsync useClass)', async () => {
    @Injectable()
    class Options implements TidingsOptionsFactory {
      createTidingsOptions(): TidingsModuleOptions {
        return { source: 'from-class', logger: silentLogger, drainTimeoutMs: 1_000 };
      }
    }
    const app = await boot({
      imports: [TidingsModule.forRootAsync({ useClass: Options })],
      providers: [Greeter, EmailHandlers],
    });
    await app.get(TidingsBus).publish(OrderPlaced, { orderId: 'o-6', totalCents: 1 });
    await app.get(EmailHandlers).recorder.until(1);
    expect(() => TidingsModule.forRootAsync({})).toThrow(ConfigError);
  });

  it('runs several named buses, each with its own handlers', async () => {
    @Injectable()
    class AuditHandlers {
      readonly recorder = new Recorder();
      constructor(
        @InjectBus('audit') readonly audit: TidingsBus,
        @Inject(TidingsBus) readonly main: TidingsBus,
      ) {}
      @Subscribe(OrderPlaced, { group: 'audit-log', bus: 'audit' })
      onOrderPlaced(event: EventOf<typeof OrderPlaced>): void {
        this.recorder.add(`audit ${event.data.orderId} from ${event.source}`);
      }
    }
    const app = await boot({
      imports: [
        TidingsModule.forRoot(quiet),
        TidingsModule.forRoot({ name: 'audit', source: 'audit-source', logger: silentLogger }),
      ],
      providers: [Greeter, EmailHandlers, AuditHandlers],
    });
    const audit = app.get(AuditHandlers);
    expect(audit.audit).not.toBe(audit.main);
    expect(app.get(getBusToken('audit'))).toBe(audit.audit);
    await audit.main.publish(OrderPlaced, { orderId: 'o-7', totalCents: 1 });
    await audit.audit.publish(OrderPlaced, { orderId: 'o-8', totalCents: 1 });
    expect(await app.get(EmailHandlers).recorder.until(1)).toEqual(['hello o-7 (attempt 1)']);
    expect(await audit.recorder.until(1)).toEqual(['audit o-8 from audit-source']);
    expect(audit.main.health().subscriptions.map((s) => s.group)).toEqual(['email']);
    expect(audit.audit.health().subscriptions.map((s) => s.group)).toEqual(['audit-log']);
  });

  it('refuses at bootstrap a handler on a bus no module made', async () => {
    @Injectable()
    class Stray {
      @Subscribe(OrderPlaced, { group: 'stray', bus: 'billing' })
      onOrderPlaced(): void {}
    }
    const moduleRef = await Test.createTestingModule({
      imports: [TidingsModule.forRoot(quiet)],
      providers: [Stray],
    }).compile();
    opened.push(moduleRef);
    await expect(moduleRef.init()).rejects.toThrow(/Stray\.onOrderPlaced subscribes on the bus "billing"/);
  });

  it('refuses two buses of one name', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [TidingsModule.forRoot(quiet), TidingsModule.forRoot({ ...quiet, source: 'other' })],
    }).compile();
    opened.push(moduleRef);
    await expect(moduleRef.init()).rejects.toThrow(/two TidingsModule.forRoot calls make the bus "default"/);
  });

  it('refuses two handlers in one group on one topic, which would split its events', async () => {
    @Injectable()
    class First {
      @Subscribe(OrderPlaced, { group: 'email' })
      send(): void {}
    }
    @Injectable()
    class Second {
      @Subscribe([OrderShipped, OrderPlaced], { group: 'email' })
      send(): void {}
    }
    const moduleRef = await Test.createTestingModule({
      imports: [TidingsModule.forRoot(quiet)],
      providers: [First, Second],
    }).compile();
    opened.push(moduleRef);
    await expect(moduleRef.init()).rejects.toThrow(
      /First\.send and Second\.send both handle the topic "shop\.order\.placed" in the group "email"/,
    );
  });

  it('refuses a handler on a request-scoped provider', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @Subscribe(OrderPlaced, { group: 'per-request' })
      onOrderPlaced(): void {}
    }
    const moduleRef = await Test.createTestingModule({
      imports: [TidingsModule.forRoot(quiet)],
      providers: [PerRequest],
    }).compile();
    opened.push(moduleRef);
    await expect(moduleRef.init()).rejects.toThrow(/PerRequest is request-scoped or transient/);
  });

  it('refuses a @Subscribe without a group or on a static method when the class is defined', () => {
    expect(() => Subscribe(OrderPlaced, { group: '' })).toThrow(ConfigError);
    expect(() => {
      class Static {
        @Subscribe(OrderPlaced, { group: 'static' })
        static handle(): void {}
        instance(): void {}
      }
      return Static;
    }).toThrow(/is static/);
  });

  it('runs on the test harness bus: overrideProvider(TidingsBus) with createTestBus()', async () => {
    @Injectable()
    class FlakyHandlers {
      @Subscribe(OrderPlaced, { group: 'flaky', retry: { maxAttempts: 3, initialDelayMs: 5 } })
      onOrderPlaced(event: EventOf<typeof OrderPlaced>): void {
        if (event.data.totalCents < 0) throw new Error(`refunds are not orders: ${event.data.orderId}`);
      }
    }
    const testBus = createTestBus();
    const moduleRef = await Test.createTestingModule({
      imports: [TidingsModule.forRoot({ source: 'real', logger: silentLogger })],
      providers: [Greeter, EmailHandlers, FlakyHandlers],
    })
      .overrideProvider(TidingsBus)
      .useValue(testBus)
      .compile();
    opened.push(moduleRef);
    await moduleRef.init();
    expect(moduleRef.get(TidingsBus)).toBe(testBus);

    const { id } = await testBus.publish(OrderPlaced, { orderId: 'o-9', totalCents: 5 });
    await testBus.waitFor({ id, group: 'email', outcome: 'handled' });
    await testBus.waitFor({ id, group: 'flaky', outcome: 'handled' });
    const refund = await testBus.publish(OrderPlaced, { orderId: 'o-10', totalCents: -5 });
    const [deadLettered] = await testBus.waitFor({ id: refund.id, group: 'flaky', outcome: 'deadLettered' });
    expect(deadLettered?.attempt).toBe(3);
    expect(testBus.deliveries.filter((d) => d.id === refund.id && d.outcome === 'retried')).toHaveLength(2);
  });

  it('drains a running handler on shutdown while the bus still publishes, then closes the bus', async () => {
    const release = latch();
    const started = new Recorder();
    const events: string[] = [];
    @Injectable()
    class SlowHandlers {
      @Subscribe(OrderPlaced, { group: 'slow' })
      async onOrderPlaced(event: EventOf<typeof OrderPlaced>, ctx: MessageContext): Promise<void> {
        started.add(event.data.orderId);
        await release.promise;
        // The bus is still open while handlers drain: follow-up events go out.
        await ctx.publish(OrderShipped, { orderId: event.data.orderId });
        events.push('handler finished');
      }
    }
    @Injectable()
    class Watcher {
      onApplicationShutdown(): void {
        events.push('application shutdown');
      }
    }
    const app = await boot({ imports: [TidingsModule.forRoot(quiet)], providers: [SlowHandlers, Watcher] });
    const bus = app.get(TidingsBus);
    await bus.publish(OrderPlaced, { orderId: 'o-11', totalCents: 1 });
    await started.until(1);

    let closed = false;
    const closing = app.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false);
    release.open();
    await closing;
    expect(events[0]).toBe('handler finished');
    expect(bus.health().adapter.state).toBe('closed');
    await expect(bus.publish(OrderPlaced, { orderId: 'o-12', totalCents: 1 })).rejects.toThrow(ClosedError);
  });

  it('owns an outbox and runs its relay: a write reaches the handlers, the relay stops on shutdown', async () => {
    @Injectable()
    class Checkout {
      constructor(
        @InjectOutbox() readonly outbox: MemoryOutbox,
        @InjectRelay() readonly relay: OutboxRelay,
      ) {}
    }
    const app = await boot({
      imports: [TidingsModule.forRoot({ ...quiet, outbox: { store: (bus) => createMemoryOutbox({ bus }) } })],
      providers: [Greeter, EmailHandlers, Checkout],
    });
    const checkout = app.get(Checkout);
    expect(checkout.relay.state).toBe('running');
    await checkout.outbox.write(OrderPlaced, { orderId: 'o-13', totalCents: 1 });
    expect(await app.get(EmailHandlers).recorder.until(1)).toEqual(['hello o-13 (attempt 1)']);
    await app.close();
    expect(checkout.relay.state).toBe('stopped');
  });

  it('leaves the relay to another process with relay: false', async () => {
    @Module({})
    class Empty {}
    const app = await boot({
      imports: [
        Empty,
        TidingsModule.forRoot({
          ...quiet,
          outbox: { store: (bus) => createMemoryOutbox({ bus }), relay: false },
        }),
      ],
    });
    expect(app.get('TidingsOutboxRelay:default')).toBeNull();
    expect(app.get('TidingsOutbox:default')).not.toBeNull();
    const without = await boot({ imports: [TidingsModule.forRoot(quiet)] });
    expect(without.get('TidingsOutbox:default')).toBeNull();
  });
});
