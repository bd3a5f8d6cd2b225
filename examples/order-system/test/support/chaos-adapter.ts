// A broker adapter decorator that misbehaves the way real systems do now and then: every record is
// published twice (a producer that retried after a lost acknowledgement), and every record a group
// acknowledged is delivered to it once more (an acknowledgement lost on the way back). The app
// must come out the same: one email per order, one status change, revenue counted once.
import type { BrokerAdapter, IncomingRecord, OutgoingRecord } from '@tidings/core';

/** What the chaos adapter did, for the test to check that it did something. */
export interface ChaosStats {
  duplicatedPublishes: number;
  redeliveries: number;
}

/** Wraps `inner`; `stats` counts the duplicates it made. */
export function withDuplicates(inner: BrokerAdapter, stats: ChaosStats): BrokerAdapter {
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    get state() {
      return inner.state;
    },
    connect: () => inner.connect(),
    close: (options) => inner.close(options),
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
  };
}
