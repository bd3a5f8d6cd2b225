import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { MessageContext, ReceivedEvent } from '../context/delivery';
import { defineEvent } from '../contracts/define-event';
import type { BatchContext } from './batch';
import { createBus } from './bus';

const OrderPlaced = defineEvent({ type: 'order.placed', schema: z.object({ orderId: z.string() }) });
const OrderShipped = defineEvent({ type: 'order.shipped', schema: z.object({ carrier: z.string() }) });
type Placed = ReceivedEvent<'order.placed', { orderId: string }>;
type Shipped = ReceivedEvent<'order.shipped', { carrier: string }>;

const bus = createBus({ source: 'types' });

describe('batch subscription types', () => {
  it('types the events and the batch context of one contract', () => {
    bus.subscribeBatch(
      OrderPlaced,
      { group: 'g', batch: { maxSize: 500, maxWaitMs: 50 } },
      (events, batch) => {
        expectTypeOf(events).toEqualTypeOf<readonly [Placed, ...Placed[]]>();
        expectTypeOf(events[0].data.orderId).toEqualTypeOf<string>();
        expectTypeOf(batch).toEqualTypeOf<BatchContext<Placed>>();
        expectTypeOf(batch.contexts).toEqualTypeOf<readonly MessageContext<Placed>[]>();
        expectTypeOf(batch.signal).toEqualTypeOf<AbortSignal>();
        expectTypeOf(batch.fail).parameter(0).toEqualTypeOf<Placed>();
      },
    );
  });

  it('gives a list of contracts a union discriminated by type', () => {
    bus.subscribeBatch([OrderPlaced, OrderShipped], { group: 'g' }, (events) => {
      expectTypeOf(events[0]).toEqualTypeOf<Placed | Shipped>();
      for (const event of events) {
        if (event.type === 'order.shipped') expectTypeOf(event.data.carrier).toEqualTypeOf<string>();
      }
    });
  });

  it('rejects what does not fit', () => {
    // @ts-expect-error the concurrency follows the batch size
    bus.subscribeBatch(OrderPlaced, { group: 'g', concurrency: 4 }, () => undefined);
    // @ts-expect-error and so does the prefetch
    bus.subscribeBatch(OrderPlaced, { group: 'g', prefetch: 400 }, () => undefined);
    // @ts-expect-error maxSize is a number
    bus.subscribeBatch(OrderPlaced, { group: 'g', batch: { maxSize: '500' } }, () => undefined);
    bus.subscribeBatch(OrderPlaced, { group: 'g' }, (events) => {
      // @ts-expect-error a placed order has no carrier
      events[0].data.carrier;
    });
  });
});
