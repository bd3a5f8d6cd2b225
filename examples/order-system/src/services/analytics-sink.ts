import { type SimulatedLatency, simulateCall } from './latency';

/** One business event, as an analytics pipeline (a product-analytics service, a warehouse) takes it. */
export interface TrackedEvent {
  readonly name: 'order placed' | 'order shipped';
  readonly orderId: string;
  /** Revenue of the order, for `order placed`. */
  readonly revenueCents?: number;
  /** Time from placing to shipping, for `order shipped`. */
  readonly fulfilmentMs?: number;
  readonly at: string;
}

/** What the analytics consumer needs from the analytics service. */
export interface AnalyticsSink {
  track(event: TrackedEvent, signal?: AbortSignal): Promise<void>;
}

/** Totals the simulated sink keeps, for the demo to print. */
export interface AnalyticsTotals {
  readonly ordersPlaced: number;
  readonly ordersShipped: number;
  readonly revenueCents: number;
  /** Mean time from placing to shipping, in milliseconds; 0 before the first shipment. */
  readonly meanFulfilmentMs: number;
}

/**
 * An analytics service that answers after `latencyMs` and adds up what it is told. It counts every
 * call, so a duplicate delivery that reached it would show as a wrong total.
 *
 * @example
 * ```ts
 * const analytics = createSimulatedAnalyticsSink({ latencyMs: 150 });
 * await analytics.track({ name: 'order placed', orderId: 'o-1', revenueCents: 4200, at: new Date().toISOString() });
 * console.log(analytics.totals().revenueCents);
 * ```
 */
export function createSimulatedAnalyticsSink(
  options: SimulatedLatency,
): AnalyticsSink & { totals(): AnalyticsTotals; readonly tracked: readonly TrackedEvent[] } {
  const tracked: TrackedEvent[] = [];
  return {
    tracked,
    async track(event, signal) {
      await simulateCall(options, signal);
      tracked.push(event);
    },
    totals() {
      let ordersPlaced = 0;
      let ordersShipped = 0;
      let revenueCents = 0;
      let fulfilmentMs = 0;
      for (const event of tracked) {
        if (event.name === 'order placed') {
          ordersPlaced++;
          revenueCents += event.revenueCents ?? 0;
        } else {
          ordersShipped++;
          fulfilmentMs += event.fulfilmentMs ?? 0;
        }
      }
      const meanFulfilmentMs = ordersShipped === 0 ? 0 : fulfilmentMs / ordersShipped;
      return { ordersPlaced, ordersShipped, revenueCents, meanFulfilmentMs };
    },
  };
}
