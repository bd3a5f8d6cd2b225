import { describe, expect, it } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import { TimeoutError } from '../errors';
import { createTestBus } from './harness';

describe('test harness', () => {
  it('records publishes and deliveries, and waits for a count of matches', async () => {
    const bus = createTestBus();
    bus.subscribe(OrderPlaced, { group: 'a' }, () => undefined);
    bus.subscribe(OrderPlaced, { group: 'b' }, (event) => {
      if (event.data.orderId === 'x') throw new Error('no');
    });
    await bus.start();
    await bus.publish(OrderPlaced, order('x'));
    await bus.publish(OrderPlaced, order('y'));
    const handledByA = await bus.waitFor({ group: 'a', outcome: 'handled' }, { count: 2 });
    expect(handledByA.map((d) => (d.data as { orderId: string }).orderId)).toEqual(['x', 'y']);
    await bus.waitFor({ group: 'b', where: (d) => d.outcome === 'retried' && d.error?.message === 'no' });
    expect(bus.published.map((p) => p.key)).toEqual(['x', 'y']);
    bus.clear();
    expect(bus.published).toEqual([]);
    await bus.stop();
  });

  it('says what it saw when the wait times out', async () => {
    const bus = createTestBus();
    bus.subscribe(OrderPlaced, { group: 'a' }, () => undefined);
    await bus.start();
    await bus.publish(OrderPlaced, order('x'));
    const error = await bus.waitFor({ group: 'nobody' }, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(
      /saw 0 of 1 within 50 ms; last deliveries: a\/order.placed\/handled/,
    );
    await bus.stop();
  });
});
