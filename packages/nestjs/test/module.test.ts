// TidingsModule on the in-memory broker: discovery, `this`, async options, named buses, the
// checks made at bootstrap, the test bus, the outbox relay and the order of shutdown; then the
// same for batch handlers (@SubscribeBatch).
// Like every test of this package, it is compiled without decorator metadata (see
// vitest.config.ts), so every injection names its token, as the package's own code does.
import 'reflect-metadata';
import { Inject, Injectable, Module, Scope } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import {
  type BatchContext,
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
  SubscribeBatch,
  TidingsBus,
  TidingsHealthIndicator,
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

type Placed = EventOf<typeof OrderPlaced>;

describe('@SubscribeBatch', () => {
  it('hands a provider method batches, `this` being the provider, and settles each event on its own', async () => {
    @Injectable()
    class SearchIndexer {
      readonly batches = new Recorder<string[]>();
      readonly attempts = new Recorder();
      constructor(@Inject(Greeter) private readonly greeter: Greeter) {}

      @SubscribeBatch(OrderPlaced, {
        group: 'search',
        retry: { maxAttempts: 3, initialDelayMs: 5, jitter: 0 },
        // Full at three: the first three events make one batch whatever the timing.
        batch: { maxSize: 3, maxWaitMs: 200 },
      })
      async onOrdersPlaced(events: readonly Placed[], batch: BatchContext<Placed>): Promise<void> {
        this.batches.add(events.map((event) => this.greeter.greet(event.data.orderId)));
        for (const event of events) {
          const { attempt } = batch.contextOf(event);
          this.attempts.add(`${event.data.orderId}@${attempt}`);
          if (event.data.totalCents < 0 && attempt === 1) batch.fail(event, new Error('index rejected it'));
        }
      }
    }
    const app = await boot({ imports: [TidingsModule.forRoot(quiet)], providers: [Greeter, SearchIndexer] });
    const bus = app.get(TidingsBus);
    await bus.publishBatch(
      ['o-1', 'o-2', 'o-3'].map((orderId, i) => ({
        contract: OrderPlaced,
        data: { orderId, totalCents: i === 1 ? -1 : 1 },
      })),
    );
    const indexer = app.get(SearchIndexer);
    // The failed event alone comes back, with its attempt counted; the others were acknowledged.
    expect(await indexer.attempts.until(4)).toEqual(['o-1@1', 'o-2@1', 'o-3@1', 'o-2@2']);
    expect(indexer.batches.seen).toEqual([['hello o-1', 'hello o-2', 'hello o-3'], ['hello o-2']]);

    // Its subscription is one of the bus's, in bus.health() and in the health indicator.
    const health = await app.get(TidingsHealthIndicator).isHealthy('broker');
    expect(health.broker).toMatchObject({
      status: 'up',
      subscriptions: [{ group: 'search', topics: ['shop.order.placed'], state: 'running' }],
    });
  });

  it('runs beside @Subscribe handlers, on a named bus too', async () => {
    @Injectable()
    class Analytics {
      readonly recorder = new Recorder();
      @SubscribeBatch([OrderPlaced, OrderShipped], { group: 'analytics', bus: 'audit' })
      onOrderEvents(events: readonly EventsOf<[typeof OrderPlaced, typeof OrderShipped]>[]): void {
        for (const event of events) this.recorder.add(`${event.type} ${event.data.orderId}`);
      }
    }
    const app = await boot({
      imports: [
        TidingsModule.forRoot(quiet),
        TidingsModule.forRoot({ name: 'audit', source: 'audit-source', logger: silentLogger }),
      ],
      providers: [Greeter, EmailHandlers, Analytics],
    });
    const audit = app.get<TidingsBus>(getBusToken('audit'));
    await app.get(TidingsBus).publish(OrderPlaced, { orderId: 'o-20', totalCents: 1 });
    await audit.publish(OrderShipped, { orderId: 'o-21' });
    expect(await app.get(EmailHandlers).recorder.until(1)).toEqual(['hello o-20 (attempt 1)']);
    expect(await app.get(Analytics).recorder.until(1)).toEqual(['shop.order.shipped o-21']);
    expect(
      app
        .get(TidingsBus)
        .health()
        .subscriptions.map((s) => s.group),
    ).toEqual(['email']);
    expect(audit.health().subscriptions.map((s) => s.group)).toEqual(['analytics']);
    const health = await app.get(TidingsHealthIndicator).isHealthy('audit', { bus: 'audit' });
    expect(health.audit.subscriptions).toMatchObject([{ group: 'analytics', state: 'running' }]);
  });

  it('refuses a batch handler and an event handler in one group on one topic, and an unknown bus', async () => {
    @Injectable()
    class Indexer {
      @SubscribeBatch(OrderPlaced, { group: 'email' })
      index(): void {}
    }
    const shared = await Test.createTestingModule({
      imports: [TidingsModule.forRoot(quiet)],
      providers: [Greeter, EmailHandlers, Indexer],
    }).compile();
    opened.push(shared);
    await expect(shared.init()).rejects.toThrow(
      /EmailHandlers\.onOrderPlaced and Indexer\.index both handle the topic "shop\.order\.placed" in the group "email"/,
    );

    @Injectable()
    class Stray {
      @SubscribeBatch(OrderPlaced, { group: 'stray', bus: 'billing' })
      index(): void {}
    }
    const stray = await Test.createTestingModule({
      imports: [TidingsModule.forRoot(quiet)],
      providers: [Stray],
    }).compile();
    opened.push(stray);
    await expect(stray.init()).rejects.toThrow(/Stray\.index subscribes on the bus "billing"/);
  });

  it('refuses bad batch settings at bootstrap, naming the field', async () => {
    @Injectable()
    class Oversized {
      @SubscribeBatch(OrderPlaced, { group: 'oversized', batch: { maxSize: 0 } })
      index(): void {}
    }
    const moduleRef = await Test.createTestingModule({
      imports: [TidingsModule.forRoot(quiet)],
      providers: [Oversized],
    }).compile();
    opened.push(moduleRef);
    await expect(moduleRef.init()).rejects.toThrow(/batch\.maxSize/);
  });

  it('refuses a @SubscribeBatch without a group or on a static method when the class is defined', () => {
    expect(() => SubscribeBatch(OrderPlaced, { group: '' })).toThrow(
      /@SubscribeBatch needs a non-empty consumer group/,
    );
    expect(() => SubscribeBatch([], { group: 'search' })).toThrow(ConfigError);
    expect(() => {
      class Static {
        @SubscribeBatch(OrderPlaced, { group: 'static' })
        static index(): void {}
        instance(): void {}
      }
      return Static;
    }).toThrow(/@SubscribeBatch goes on an instance method/);
  });

  it('replaces an inherited declaration that a subclass makes again, of either kind', async () => {
    @Injectable()
    class PerEvent {
      readonly recorder = new Recorder();
      @Subscribe(OrderPlaced, { group: 'index' })
      index(event: Placed | readonly Placed[]): void {
        this.recorder.add(Array.isArray(event) ? 'batch' : 'event');
      }
    }
    @Injectable()
    class Batched extends PerEvent {
      @SubscribeBatch(OrderPlaced, { group: 'index' })
      override index(events: Placed | readonly Placed[]): void {
        super.index(events);
      }
    }
    const app = await boot({ imports: [TidingsModule.forRoot(quiet)], providers: [Batched] });
    await app.get(TidingsBus).publish(OrderPlaced, { orderId: 'o-30', totalCents: 1 });
    expect(await app.get(Batched).recorder.until(1)).toEqual(['batch']);
    expect(app.get(TidingsBus).health().subscriptions).toHaveLength(1);
  });

  it('drains a running batch on shutdown while the bus still publishes, and settles its events', async () => {
    const release = latch();
    const started = new Recorder<string[]>();
    const events: string[] = [];
    @Injectable()
    class SlowIndexer {
      @SubscribeBatch(OrderPlaced, { group: 'slow-index', batch: { maxSize: 2, maxWaitMs: 1_000 } })
      async index(batch: readonly Placed[], context: BatchContext<Placed>): Promise<void> {
        started.add(batch.map((event) => event.data.orderId));
        await release.promise;
        const first = context.contextOf(batch[0]!);
        await first.publish(OrderShipped, { orderId: batch[0]!.data.orderId });
        events.push('batch finished');
      }
    }
    @Injectable()
    class Watcher {
      onApplicationShutdown(): void {
        events.push('application shutdown');
      }
    }
    const testBus = createTestBus();
    const moduleRef = await Test.createTestingModule({
      imports: [TidingsModule.forRoot(quiet)],
      providers: [SlowIndexer, Watcher],
    })
      .overrideProvider(TidingsBus)
      .useValue(testBus)
      .compile();
    opened.push(moduleRef);
    await moduleRef.init();
    const placed = await testBus.publishBatch([
      { contract: OrderPlaced, data: { orderId: 'o-40', totalCents: 1 } },
      { contract: OrderPlaced, data: { orderId: 'o-41', totalCents: 1 } },
    ]);
    expect(await started.until(1)).toEqual([['o-40', 'o-41']]);

    let closed = false;
    const closing = moduleRef.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false);
    release.open();
    await closing;
    expect(events).toEqual(['batch finished', 'application shutdown']);
    for (const { id } of placed) {
      expect(testBus.deliveries.filter((d) => d.id === id).map((d) => d.outcome)).toEqual(['handled']);
    }
  });
});
