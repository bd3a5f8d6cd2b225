// A live tail of one topic for one page: a consumer group of its own that starts at the latest
// record, so the application's groups are not touched; deleted when the page leaves.
import { randomBytes } from 'node:crypto';
import type { BrokerAdapter, Operator } from '@tidings/core';
import type { AdapterSubscription, Settlement } from '@tidings/core/adapter';
import { TAIL_GROUP_PREFIX } from './lag';
import type { EventStream } from './sse';

const ACK: Settlement = { type: 'ack' };

/** A running tail; `stop()` closes its subscription and deletes its group where the broker can. */
export interface Tail {
  stop(): Promise<void>;
}

/** Starts tailing `topic` into `stream`; sends `ready` once the group exists, then `record`s. */
export async function startTail(
  adapter: BrokerAdapter,
  operator: Operator,
  topic: string,
  stream: EventStream,
): Promise<Tail> {
  const group = `${TAIL_GROUP_PREFIX}${randomBytes(6).toString('hex')}`;
  const subscription: AdapterSubscription = await adapter.subscribe(
    {
      group,
      topics: [topic],
      concurrency: 1,
      ordering: 'none',
      startFrom: 'latest',
      maxAttempts: 1,
      handlerTimeoutMs: 0,
    },
    async (record) => {
      const { envelope, decodeError } = operator.decode(record);
      stream.send('record', {
        topic: record.topic,
        key: record.key ?? null,
        position: record.position,
        envelope: envelope ?? null,
        decodeError: decodeError?.message ?? null,
        receivedAt: new Date().toISOString(),
      });
      return ACK;
    },
  );
  stream.send('ready', { topic });
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        await subscription.close({ signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
        if (operator.supports.groups === true) {
          await operator.deleteGroup(topic, group).catch(() => undefined);
        }
      })();
      return stopped;
    },
  };
}
