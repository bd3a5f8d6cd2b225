import { type Bus, defineEvent } from '@tidings/core';
import { z } from 'zod';

/** The event the suite writes: a sequence number per key. */
export function tickContract(topic: string) {
  return defineEvent({
    type: 'outbox.tick',
    topic,
    schema: z.object({ key: z.string(), seq: z.number().int().nonnegative() }),
    key: (data) => data.key,
  });
}

export type TickContract = ReturnType<typeof tickContract>;

/** What a consumer received, per key, with a way to wait for more. */
export class Arrivals {
  readonly byKey = new Map<string, number[]>();
  readonly ids: string[] = [];
  private waiters: { readonly count: number; readonly resolve: () => void }[] = [];

  add(id: string, data: { readonly key: string; readonly seq: number }): void {
    const list = this.byKey.get(data.key) ?? [];
    list.push(data.seq);
    this.byKey.set(data.key, list);
    this.ids.push(id);
    this.waiters = this.waiters.filter((waiter) => {
      if (new Set(this.ids).size < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves once `count` distinct events arrived; rejects after `timeoutMs` saying how many did. */
  waitForDistinct(count: number, timeoutMs = 30_000): Promise<void> {
    if (new Set(this.ids).size >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(`waited ${timeoutMs} ms for ${count} distinct events, got ${new Set(this.ids).size}`),
        );
      }, timeoutMs);
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Deliveries beyond the first of each event. */
  get duplicates(): number {
    return this.ids.length - new Set(this.ids).size;
  }
}

/**
 * Subscribes to the ticks and records them in the order the broker gives them: per key where the
 * adapter orders by key, otherwise one at a time (a single queue delivers in its own order then).
 */
export function collectTicks(bus: Bus, contract: TickContract, group: string): Arrivals {
  const arrivals = new Arrivals();
  const ordered = bus.adapter.capabilities.ordering === 'key';
  bus.subscribe(
    contract,
    { group, ordering: ordered ? 'key' : 'none', concurrency: ordered ? 16 : 1, startFrom: 'earliest' },
    (event) => {
      arrivals.add(event.id, event.data);
    },
  );
  return arrivals;
}

/**
 * The order in which each key's sequence numbers first arrived: what per-key order is about when
 * duplicates are allowed (a later event must not arrive before an earlier one arrived once).
 */
export function firstArrivals(seqs: readonly number[]): number[] {
  const seen = new Set<number>();
  const order: number[] = [];
  for (const seq of seqs) {
    if (seen.has(seq)) continue;
    seen.add(seq);
    order.push(seq);
  }
  return order;
}

/** `[0, 1, ..., n - 1]`. */
export const upTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * Resolves once `condition` holds, checking every 20 ms; rejects after `timeoutMs` with `what`.
 * For states with no event to wait on (a row marked sent after the broker already delivered it).
 */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
