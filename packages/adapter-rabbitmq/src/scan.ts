/**
 * Looking into a queue without consuming it, with AMQP alone: a consumer of its own takes the
 * messages without acknowledging them, and closing its channel gives back every one it did not
 * acknowledge. What the operations acknowledge (a redriven or purged dead letter, a stale group
 * registration) is gone; the rest is back in the queue, with its delivery count raised by one on a
 * quorum queue.
 *
 * @module
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Link } from './connection';
import { REPLY, replyCode } from './errors';

/** How long a scan waits for a message before it asks the queue whether any is left. */
const IDLE_CHECK_MS = 100;
/**
 * The most messages one scan holds: the largest prefetch AMQP can ask for. Without a prefetch a
 * quorum queue sends a consumer 2,000 messages at most, and a scan would wait for the rest forever.
 */
export const MAX_HELD = 65_535;
/**
 * How long a scan waits for the queue's other consumers to go: a scan of another operation, or
 * one whose process died and whose letters the broker has not given back yet. A subscription of
 * the dead-letter topic stays: the scan then goes on after this wait, seeing what it leaves.
 */
const CONSUMERS_WAIT_MS = 2_000;
/** How often, and how long at most, a release waits for the messages it gave back to be ready again. */
const RETURN_POLL_MS = 5;
const RETURN_WAIT_MS = 5_000;

const ignore = (): undefined => undefined;

/** A queue's counters, as a passive declaration reports them. */
export interface QueueCounts {
  /** Messages ready for delivery (not those delivered and unacknowledged). */
  readonly messageCount: number;
  readonly consumerCount: number;
}

/** The messages a scan holds, on the channel that holds them. */
export interface Held {
  /** In the order the broker delivered them. */
  readonly messages: readonly ConsumeMessage[];
  /** Removes a message from the queue for good. */
  ack(message: ConsumeMessage): void;
  /** Gives every message not acknowledged back to the queue. */
  release(): Promise<void>;
}

/**
 * Runs `task` on a channel of its own, closed afterwards. A failed declaration closes the channel
 * (that is how AMQP refuses one), so each probe gets a fresh channel.
 */
export async function withChannel<T>(link: Link, task: (channel: Channel) => Promise<T>): Promise<T> {
  const channel = await link.createChannel();
  // A refusal comes back as the rejection of the call that caused it; the channel's 'error' is the same.
  channel.on('error', ignore);
  try {
    return await task(channel);
  } finally {
    await channel.close().catch(ignore);
  }
}

/** A queue's counters, or `undefined` when no queue has that name. */
export function probe(link: Link, queue: string): Promise<QueueCounts | undefined> {
  return withChannel(link, async (channel) => {
    try {
      const { messageCount, consumerCount } = await channel.checkQueue(queue);
      return { messageCount, consumerCount };
    } catch (error) {
      if (replyCode(error) === REPLY.notFound) return undefined;
      throw error;
    }
  });
}

/**
 * Takes every message of `queue` that is ready now (or until `enough` says so) without
 * acknowledging any; resolves with them held, or `undefined` when the queue does not exist. The
 * scan ends once it holds as many as were ready when it began (at most {@link MAX_HELD}), or when
 * none is ready any more (messages another scan holds are not seen). The caller must `release`
 * what it holds.
 */
export async function scan(
  link: Link,
  queue: string,
  enough: (messages: readonly ConsumeMessage[]) => boolean = () => false,
): Promise<Held | undefined> {
  const channel = await link.createChannel();
  let failure: Error | undefined;
  channel.on('error', (error: Error) => {
    failure = error;
  });
  const messages: ConsumeMessage[] = [];
  let acked = 0;
  /** Every message delivered, those that came after the scan ended too: all of them are given back. */
  let received = 0;
  let consumerTag: string | undefined;
  let cancelled: Promise<unknown> | undefined;
  const cancel = (): Promise<unknown> | undefined => {
    if (consumerTag !== undefined) cancelled ??= channel.cancel(consumerTag).catch(ignore);
    return cancelled;
  };
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    // The broker gives messages back asynchronously after the channel closes: an operation that
    // followed at once (here or in another process) would miss them. So the release waits until
    // the queue has them ready again, as far as its counters can tell (another consumer may take
    // some meanwhile: then the wait ends at its limit).
    let expected: number | undefined;
    try {
      // After the acknowledgements (see above), which the channel sends in order before this.
      await cancel();
      expected = (await channel.checkQueue(queue)).messageCount + received - acked;
    } catch {
      // The channel is gone: the broker gives everything back on its own.
    }
    await channel.close().catch(ignore);
    if (expected !== undefined && received > acked) await readyAgain(link, queue, expected);
  };
  const held: Held = {
    messages,
    ack: (message) => {
      channel.ack(message);
      acked++;
    },
    release,
  };
  try {
    let ready: number;
    try {
      ready = await readyAlone(channel, queue);
    } catch (error) {
      if (replyCode(error) === REPLY.notFound) {
        await release();
        return undefined;
      }
      throw error;
    }
    if (ready === 0) return held;
    await channel.prefetch(MAX_HELD, false);
    await new Promise<void>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      let finished = false;
      const finish = (error?: unknown): void => {
        if (finished) return;
        finished = true;
        clearTimeout(idle);
        // Not cancelled yet: a quorum queue (3.10) ignores acknowledgements that come after the
        // cancel of their consumer. What comes after the scan ended is held, and given back.
        if (error === undefined) resolve();
        else reject(error);
      };
      // A safety net for messages that were ready and are no more (taken by another consumer).
      const checkIdle = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          channel.checkQueue(queue).then((counts) => {
            if (counts.messageCount === 0) finish();
            else if (!finished) checkIdle();
          }, finish);
        }, IDLE_CHECK_MS);
      };
      channel.on('close', () => finish(failure ?? new Error(`the channel scanning "${queue}" closed`)));
      channel
        .consume(
          queue,
          (message) => {
            if (message !== null) received++;
            if (finished) return;
            if (message === null) {
              finish(new Error(`RabbitMQ cancelled the scan of "${queue}" (was it deleted?)`));
              return;
            }
            messages.push(message);
            // `enough` sees every message, the last one included.
            const satisfied = enough(messages);
            if (satisfied || messages.length >= Math.min(ready, MAX_HELD)) finish();
            else checkIdle();
          },
          { noAck: false },
        )
        .then((reply) => {
          consumerTag = reply.consumerTag;
          if (!finished) checkIdle();
        }, finish);
    });
    return held;
  } catch (error) {
    await release();
    throw error;
  }
}

/** Waits until `queue` has at least `count` messages ready, for {@link RETURN_WAIT_MS} at most. */
async function readyAgain(link: Link, queue: string, count: number): Promise<void> {
  await withChannel(link, async (channel) => {
    const deadline = Date.now() + RETURN_WAIT_MS;
    while (Date.now() < deadline) {
      const { messageCount } = await channel.checkQueue(queue);
      if (messageCount >= count) return;
      await new Promise((resolve) => setTimeout(resolve, RETURN_POLL_MS));
    }
  }).catch(ignore);
}

/**
 * The ready messages of `queue` once it has no other consumer, or after {@link CONSUMERS_WAIT_MS}:
 * what another consumer holds is not ready, and would be missing from the scan.
 */
async function readyAlone(channel: Channel, queue: string): Promise<number> {
  const deadline = Date.now() + CONSUMERS_WAIT_MS;
  for (;;) {
    const { messageCount, consumerCount } = await channel.checkQueue(queue);
    if (consumerCount === 0 || Date.now() >= deadline) return messageCount;
    await new Promise((resolve) => setTimeout(resolve, RETURN_POLL_MS));
  }
}
