// Dead letters: events a consumer gave up on (retries used up, or an error retrying cannot fix)
// land on `<topic>.<group>.dlq`. Someone must look at them; this monitor reports each one. In
// production it would page someone, or keep them for an operator to fix and replay.
import type { AnyEventContract, Bus, Subscription } from '@tidings/core';
import { DEAD_LETTER_HEADERS } from '@tidings/core/adapter';
import type { ActivityLog } from '../activity';

/** The monitor of group `g`'s dead letters of event type `t` is the consumer group `g.dlq-monitor.t`. */
export function monitorGroupOf(group: string, contract: AnyEventContract): string {
  return `${group}.dlq-monitor.${contract.type}`;
}

/** A consumer group (its full name) and the contracts it consumes: whose dead letters to watch. */
export interface WatchedGroup {
  readonly group: string;
  readonly contracts: readonly AnyEventContract[];
}

/**
 * Subscribes one monitor per dead-letter topic of the given groups.
 *
 * @example
 * ```ts
 * subscribeDeadLetterMonitor(bus, [{ group: 'email-confirmation', contracts: [OrderPlaced] }], console.log);
 * ```
 */
export function subscribeDeadLetterMonitor(
  bus: Bus,
  watched: readonly WatchedGroup[],
  activity: ActivityLog,
): Subscription[] {
  const subscriptions: Subscription[] = [];
  for (const { group, contracts } of watched) {
    for (const contract of contracts) {
      subscriptions.push(
        bus.subscribe(
          contract,
          {
            // A group of its own per dead-letter topic, so that each keeps its own position and,
            // on Kafka, a rebalance of one monitor does not pause the others.
            group: monitorGroupOf(group, contract),
            topic: bus.deadLetterTopicOf(contract, group),
            // Recording a dead letter cannot usefully be retried: one attempt.
            retry: false,
            // A dead letter may be there because its data broke the contract: record it anyway.
            validate: false,
            unknownTypes: 'ack',
            // A dead letter is kept by the broker until read: start from the first one.
            startFrom: 'earliest',
          },
          (event, ctx) => {
            const headers = ctx.record.headers;
            activity({
              kind: 'dead-letter',
              group: headers[DEAD_LETTER_HEADERS.group] ?? group,
              orderId: event.subject ?? event.key ?? event.id,
              reason: headers[DEAD_LETTER_HEADERS.reason] ?? 'unknown',
            });
          },
        ),
      );
    }
  }
  return subscriptions;
}
