// What must and must not compile: handlers typed by their contracts, the injectable bus.
import type { Bus, EventOf, EventsOf, MessageContext } from '@tidings/core';
import { describe, expectTypeOf, it } from 'vitest';
import {
  Subscribe,
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
