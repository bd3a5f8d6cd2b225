// What must and must not compile: handlers typed by their contracts, the injectable bus.
import type { BatchContext, Bus, EventOf, EventsOf, MessageContext } from '@tidings/core';
import { describe, expectTypeOf, it } from 'vitest';
import {
  Subscribe,
  SubscribeBatch,
  type SubscribeBatchHandlerOptions,
  type TidingsBus,
  type TidingsHealthIndicator,
  type TidingsHealthResult,
} from '../src/index';
import { OrderPlaced, OrderShipped } from './support/events';

describe('@Subscribe', () => {
  it('takes a method whose parameters fit the contracts', () => {
    class Handlers {
      @Subscribe(OrderPlaced, { group: 'email' })
      one(event: EventOf<typeof OrderPlaced>, ctx: MessageContext): Promise<void> {
        expectTypeOf(event.data.totalCents).toEqualTypeOf<number>();
        expectTypeOf(ctx.attempt).toEqualTypeOf<number>();
        return Promise.resolve();
      }

      @Subscribe([OrderPlaced, OrderShipped], { group: 'timeline', bus: 'audit' })
      both(event: EventsOf<[typeof OrderPlaced, typeof OrderShipped]>): void {
        if (event.type === 'shop.order.shipped')
          expectTypeOf(event.data).toEqualTypeOf<{ orderId: string }>();
      }

      @Subscribe(OrderPlaced, { group: 'counter' })
      none(): void {}
    }
    expectTypeOf<Handlers>().toHaveProperty('one');
  });

  it('refuses a method typed for another contract, a missing group, a property', () => {
    class Wrong {
      // @ts-expect-error: the method takes OrderShipped events, the subscription delivers OrderPlaced.
      @Subscribe(OrderPlaced, { group: 'email' })
      shipped(event: EventOf<typeof OrderShipped>): void {
        void event;
      }

      // @ts-expect-error: a subscription needs its consumer group.
      @Subscribe(OrderPlaced, {})
      noGroup(): void {}

      // @ts-expect-error: only methods handle events.
      @Subscribe(OrderPlaced, { group: 'email' })
      notAMethod = 42;
    }
    expectTypeOf<Wrong>().toHaveProperty('shipped');
  });
});

describe('@SubscribeBatch', () => {
  type Placed = EventOf<typeof OrderPlaced>;
  type Shipped = EventOf<typeof OrderShipped>;

  it('takes a method whose parameters fit the contracts', () => {
    class Handlers {
      @SubscribeBatch(OrderPlaced, { group: 'search', batch: { maxSize: 500, maxWaitMs: 20 } })
      array(events: readonly Placed[], batch: BatchContext<Placed>): Promise<void> {
        expectTypeOf(events[0]?.data.totalCents).toEqualTypeOf<number | undefined>();
        expectTypeOf(batch.fail).parameter(0).toEqualTypeOf<Placed>();
        expectTypeOf(batch.contextOf).returns.toEqualTypeOf<MessageContext<Placed>>();
        return Promise.resolve();
      }

      // The non-empty tuple the bus hands over, as BatchHandler spells it.
      @SubscribeBatch(OrderPlaced, { group: 'first', bus: 'audit' })
      tuple(events: readonly [Placed, ...Placed[]]): void {
        expectTypeOf(events[0].data.orderId).toEqualTypeOf<string>();
      }

      @SubscribeBatch([OrderPlaced, OrderShipped], { group: 'timeline' })
      both(events: readonly EventsOf<[typeof OrderPlaced, typeof OrderShipped]>[]): void {
        for (const event of events)
          if (event.type === 'shop.order.shipped')
            expectTypeOf(event.data).toEqualTypeOf<{ orderId: string }>();
      }

      @SubscribeBatch(OrderPlaced, { group: 'counter' })
      none(): void {}
    }
    expectTypeOf<Handlers>().toHaveProperty('array');
  });

  it('refuses a method typed for another contract or for single events, batch-less options, a property', () => {
    class Wrong {
      // @ts-expect-error: the method takes OrderShipped events, the subscription delivers OrderPlaced.
      @SubscribeBatch(OrderPlaced, { group: 'search' })
      shipped(events: readonly Shipped[]): void {
        void events;
      }

      // @ts-expect-error: a batch handler gets an array of events, not one event.
      @SubscribeBatch(OrderPlaced, { group: 'search' })
      single(event: Placed): void {
        void event;
      }

      // @ts-expect-error: a batch context of another contract's events.
      @SubscribeBatch(OrderPlaced, { group: 'search' })
      otherContext(_events: readonly Placed[], batch: BatchContext<Shipped>): void {
        void batch;
      }

      // @ts-expect-error: a subscription needs its consumer group.
      @SubscribeBatch(OrderPlaced, {})
      noGroup(): void {}

      // @ts-expect-error: the batch size is the prefetch; a batch subscription has no concurrency.
      @SubscribeBatch(OrderPlaced, { group: 'search', concurrency: 4 })
      concurrent(): void {}

      // @ts-expect-error: only methods handle events.
      @SubscribeBatch(OrderPlaced, { group: 'search' })
      notAMethod = 42;
    }
    expectTypeOf<Wrong>().toHaveProperty('shipped');
  });

  it('has the options of bus.subscribeBatch and the bus', () => {
    expectTypeOf<SubscribeBatchHandlerOptions['batch']>().toEqualTypeOf<
      Parameters<Bus['subscribeBatch']>[1]['batch']
    >();
    expectTypeOf<SubscribeBatchHandlerOptions['bus']>().toEqualTypeOf<string | undefined>();
  });
});

describe('the injectables', () => {
  it('gives TidingsBus the members of the core Bus', () => {
    expectTypeOf<TidingsBus['publish']>().toEqualTypeOf<Bus['publish']>();
    expectTypeOf<TidingsBus['subscribe']>().toEqualTypeOf<Bus['subscribe']>();
  });

  it('types the health result by its key', () => {
    const indicator = null as unknown as TidingsHealthIndicator;
    expectTypeOf(indicator.isHealthy('broker')).resolves.toEqualTypeOf<TidingsHealthResult<'broker'>>();
    expectTypeOf(indicator.isHealthy()).resolves.toEqualTypeOf<TidingsHealthResult<'tidings'>>();
  });
});
