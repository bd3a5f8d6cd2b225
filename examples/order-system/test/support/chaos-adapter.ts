// A broker adapter decorator that misbehaves the way real systems do now and then: every record is
// published twice (a producer that retried after a lost acknowledgement), and every record a group
// acknowledged is delivered to it once more (an acknowledgement lost on the way back). The app
// must come out the same: one email per order, one status change, revenue counted once.
import { type BrokerAdapter, type IncomingRecord, type OutgoingRecord, PublishError } from '@tidings/core';
import { decorateAdapter } from './decorate-adapter';

/** What the chaos adapter did, for the test to check that it did something. */
export interface ChaosStats {
  duplicatedPublishes: number;
  redeliveries: number;
}

/** Wraps `inner`; `stats` counts the duplicates it made. */
export function withDuplicates(inner: BrokerAdapter, stats: ChaosStats): BrokerAdapter {
  return decorateAdapter(inner, {
    async publish(records: readonly OutgoingRecord[]) {
      await inner.publish(records);
      stats.duplicatedPublishes += records.length;
      await inner.publish(records);
    },
    subscribe(spec, handler) {
      return inner.subscribe(spec, async (record: IncomingRecord) => {
        const settlement = await handler(record);
        if (settlement.type === 'ack') {
          stats.redeliveries++;
          // Its verdict is ignored: the record was settled already, as far as the broker knows.
          await handler({ ...record, attempt: record.attempt + 1 });
        }
        return settlement;
      });
    },
  });
}

/** A switch for {@link withOutage}. */
export interface Outage {
  down: boolean;
}

/** Wraps `inner` so that publishing fails while `outage.down`, as when the broker is unreachable. */
export function withOutage(inner: BrokerAdapter, outage: Outage): BrokerAdapter {
  return decorateAdapter(inner, {
    async publish(records: readonly OutgoingRecord[]) {
      if (outage.down) throw new PublishError('broker unreachable (simulated outage)');
      await inner.publish(records);
    },
  });
}
