// A live tail of one topic for one page: a consumer group of its own that starts at the latest
// record, so the application's groups are not touched; deleted when the page leaves.
import type { Operator } from '@tidings/core';
import type { EventStream } from './sse';

/** A running tail; `stop()` closes its subscription and deletes its group where the broker can. */
export interface Tail {
  stop(): Promise<void>;
}

/** Starts tailing `topic` into `stream`; sends `ready` once the group exists, then `record`s. */
export async function startTail(operator: Operator, topic: string, stream: EventStream): Promise<Tail> {
  const following = await operator.follow(
    topic,
    ({ record, envelope, decodeError }) => {
      stream.send('record', {
        topic: record.topic,
        key: record.key ?? null,
        position: record.position,
        envelope: envelope ?? null,
        decodeError: decodeError?.message ?? null,
        receivedAt: new Date().toISOString(),
      });
    },
    { label: 'console' },
  );
  stream.send('ready', { topic });
  return {
    async stop() {
      await following.stop().catch(() => undefined);
    },
  };
}
