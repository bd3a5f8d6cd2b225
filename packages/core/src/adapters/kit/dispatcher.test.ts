import { describe, expect, it } from 'vitest';
import { KeyedDispatcher } from './dispatcher';

interface Item {
  readonly key: string | undefined;
  readonly n: number;
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('KeyedDispatcher', () => {
  it('never runs more than the concurrency', async () => {
    let running = 0;
    let peak = 0;
    const dispatcher = new KeyedDispatcher<Item>({
      concurrency: 3,
      ordering: 'none',
      keyOf: (item) => item.key,
      run: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running--;
      },
    });
    for (let n = 0; n < 30; n++) dispatcher.push({ key: undefined, n });
    expect(dispatcher.room).toBe(0);
    await dispatcher.idle();
    expect(peak).toBe(3);
    expect(dispatcher.room).toBe(3);
  });

  it('runs the items of a key one at a time, in push order, keys in parallel', async () => {
    const order: Item[] = [];
    const gates = new Map<number, ReturnType<typeof gate>>();
    const dispatcher = new KeyedDispatcher<Item>({
      concurrency: 10,
      ordering: 'key',
      keyOf: (item) => item.key,
      run: async (item) => {
        order.push(item);
        const g = gate();
        gates.set(item.n, g);
        await g.opened;
      },
    });
    dispatcher.push({ key: 'a', n: 1 });
    dispatcher.push({ key: 'a', n: 2 });
    dispatcher.push({ key: 'b', n: 3 });
    dispatcher.push({ key: undefined, n: 4 });
    expect(order.map((i) => i.n)).toEqual([1, 3, 4]);
    gates.get(3)!.open();
    await Promise.resolve();
    await Promise.resolve();
    expect(order.map((i) => i.n)).toEqual([1, 3, 4]);
    gates.get(1)!.open();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(order.map((i) => i.n)).toEqual([1, 3, 4, 2]);
    gates.get(2)!.open();
    gates.get(4)!.open();
    await dispatcher.idle();
  });

  it('hands back items that have not started, keeping running ones', async () => {
    const g = gate();
    const dispatcher = new KeyedDispatcher<Item>({
      concurrency: 1,
      ordering: 'key',
      keyOf: (item) => item.key,
      run: () => g.opened,
    });
    dispatcher.push({ key: 'a', n: 1 });
    dispatcher.push({ key: 'a', n: 2 });
    dispatcher.push({ key: undefined, n: 3 });
    dispatcher.push({ key: 'b', n: 4 });
    expect(dispatcher.drainQueued().map((i) => i.n)).toEqual([2, 3, 4]);
    expect(dispatcher.inFlight).toBe(1);
    expect(dispatcher.queued).toBe(0);
    g.open();
    await dispatcher.idle();
  });

  it('reports a rejected run and keeps going', async () => {
    const errors: unknown[] = [];
    const seen: number[] = [];
    const dispatcher = new KeyedDispatcher<Item>({
      concurrency: 1,
      ordering: 'key',
      keyOf: (item) => item.key,
      run: async (item) => {
        seen.push(item.n);
        if (item.n === 1) throw new Error('boom');
      },
      onError: (error) => errors.push(error),
    });
    dispatcher.push({ key: 'a', n: 1 });
    dispatcher.push({ key: 'a', n: 2 });
    await dispatcher.idle();
    expect(seen).toEqual([1, 2]);
    expect(errors).toHaveLength(1);
  });

  it('wakes a fetch loop when room frees up', async () => {
    const g = gate();
    const dispatcher = new KeyedDispatcher<Item>({
      concurrency: 1,
      ordering: 'none',
      keyOf: () => undefined,
      run: () => g.opened,
    });
    dispatcher.push({ key: undefined, n: 1 });
    let woke = false;
    const room = dispatcher.whenRoom().then(() => {
      woke = true;
    });
    await Promise.resolve();
    expect(woke).toBe(false);
    g.open();
    await room;
    expect(woke).toBe(true);
  });

  it('holds up to the prefetch while running no more than the concurrency', async () => {
    const gates = new Map<number, ReturnType<typeof gate>>();
    const started: number[] = [];
    const dispatcher = new KeyedDispatcher<Item>({
      concurrency: 2,
      prefetch: 5,
      ordering: 'none',
      keyOf: () => undefined,
      run: async (item) => {
        started.push(item.n);
        const g = gate();
        gates.set(item.n, g);
        await g.opened;
      },
    });
    expect(dispatcher.room).toBe(5);
    for (let n = 1; n <= 5; n++) dispatcher.push({ key: undefined, n });
    expect(started).toEqual([1, 2]);
    expect(dispatcher.queued).toBe(3);
    expect(dispatcher.room).toBe(0);
    const room = dispatcher.whenRoom();
    gates.get(1)!.open();
    await room;
    expect(started).toEqual([1, 2, 3]);
    expect(dispatcher.inFlight).toBe(2);
    expect(dispatcher.room).toBe(1);
    // Each item finished lets the next one start, with a gate of its own.
    while (started.length < 5) {
      for (const g of gates.values()) g.open();
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const g of gates.values()) g.open();
    await dispatcher.idle();
    expect(started).toEqual([1, 2, 3, 4, 5]);
  });

  it('refuses a prefetch below the concurrency', () => {
    expect(
      () =>
        new KeyedDispatcher<Item>({
          concurrency: 4,
          prefetch: 3,
          ordering: 'none',
          keyOf: () => undefined,
          run: async () => undefined,
        }),
    ).toThrow(/prefetch/);
  });
});
