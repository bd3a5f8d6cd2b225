// What the services report as they work: one typed entry per step of an order's journey. The
// demo prints them, the tests wait on them, and in production they would go to your logger.

/** One step of an order's journey, or a failure along it. */
export type Activity =
  | {
      readonly kind: 'order.placed';
      readonly orderId: string;
      readonly totalCents: number;
      readonly ms: number;
    }
  | { readonly kind: 'order.refused'; readonly reason: string }
  | { readonly kind: 'order.shipped'; readonly orderId: string; readonly shipmentId: string }
  | {
      readonly kind: 'email.sent';
      readonly orderId: string;
      readonly to: string;
      readonly attempt: number;
    }
  | {
      readonly kind: 'email.failed';
      readonly orderId: string;
      readonly attempt: number;
      readonly error: string;
    }
  | { readonly kind: 'duplicate.skipped'; readonly group: string; readonly orderId: string }
  | { readonly kind: 'analytics.tracked'; readonly orderId: string; readonly name: string }
  | { readonly kind: 'shipment.prepared'; readonly orderId: string; readonly shipmentId: string }
  | {
      readonly kind: 'dead-letter';
      readonly group: string;
      readonly orderId: string;
      readonly reason: string;
    }
  | { readonly kind: 'compensation.failed'; readonly error: string }
  | { readonly kind: 'relay.error'; readonly error: string };

/** Where activity goes. */
export type ActivityLog = (activity: Activity) => void;

/** Drops everything: the default where nobody listens. */
export const quiet: ActivityLog = () => undefined;

/**
 * One readable line per activity, for the console.
 *
 * @example
 * ```ts
 * console.log(describeActivity({ kind: 'order.shipped', orderId: 'o-1', shipmentId: 's-1' }));
 * ```
 */
export function describeActivity(activity: Activity): string {
  switch (activity.kind) {
    case 'order.placed':
      return `orders     placed ${activity.orderId} (${euros(activity.totalCents)}) in ${activity.ms.toFixed(0)} ms`;
    case 'order.refused':
      return `orders     refused an order: ${activity.reason}`;
    case 'order.shipped':
      return `orders     ${activity.orderId} is now "shipped" (${activity.shipmentId})`;
    case 'email.sent':
      return `email      confirmed ${activity.orderId} to ${activity.to} (attempt ${activity.attempt})`;
    case 'email.failed':
      return `email      attempt ${activity.attempt} for ${activity.orderId} failed: ${activity.error}; will retry`;
    case 'duplicate.skipped':
      return `${activity.group.padEnd(10)} skipped a duplicate delivery about ${activity.orderId}`;
    case 'analytics.tracked':
      return `analytics  tracked "${activity.name}" for ${activity.orderId}`;
    case 'shipment.prepared':
      return `fulfilment prepared ${activity.shipmentId} for ${activity.orderId}`;
    case 'dead-letter':
      return `dead-letter ${activity.group} gave up on ${activity.orderId}: ${activity.reason}`;
    case 'compensation.failed':
      return `orders     could not give back a payment or reservation (needs a person): ${activity.error}`;
    case 'relay.error':
      return `outbox     relay failed, backing off: ${activity.error}`;
  }
}

function euros(cents: number): string {
  return `€${(cents / 100).toFixed(2)}`;
}

/** Keeps every activity and lets a caller wait for one, instead of sleeping or polling. */
export interface ActivityRecorder {
  readonly log: ActivityLog;
  readonly entries: readonly Activity[];
  /**
   * Resolves once `count` recorded activities (those already recorded included) match, with them;
   * rejects after `timeoutMs` (a safety net) saying how many it saw.
   */
  waitFor(match: (activity: Activity) => boolean, count?: number, timeoutMs?: number): Promise<Activity[]>;
}

/**
 * Creates a recorder; pass `forward` to also print or log each activity.
 *
 * @example
 * ```ts
 * const recorder = createActivityRecorder((a) => console.log(describeActivity(a)));
 * await recorder.waitFor((a) => a.kind === 'order.shipped' && a.orderId === id);
 * ```
 */
export function createActivityRecorder(forward: ActivityLog = quiet): ActivityRecorder {
  const entries: Activity[] = [];
  const waiters = new Set<() => void>();
  return {
    entries,
    log(activity) {
      entries.push(activity);
      forward(activity);
      for (const wake of [...waiters]) wake();
    },
    waitFor(match, count = 1, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = entries.filter(match);
          if (found.length < count) return false;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(found.slice(0, count));
          return true;
        };
        const wake = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(
            new Error(`waited ${timeoutMs} ms for ${count} activities, saw ${entries.filter(match).length}`),
          );
        }, timeoutMs);
        waiters.add(wake);
        check();
      });
    },
  };
}
