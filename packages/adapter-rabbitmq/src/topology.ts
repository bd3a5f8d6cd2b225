/**
 * What the adapter declares on the broker, always idempotently (declaring what exists with the
 * same settings is a no-op):
 *
 * - the durable topic exchange every record is published to, with routing key = topic;
 * - one durable work queue per consumer group and topic, `<exchange>/<group>/<topic>`, bound by
 *   the topic;
 * - one durable dead-letter queue per group and dead-letter topic, declared before the first dead
 *   letter is published to it, so none is lost while nobody consumes that topic yet; it is named
 *   like the work queue the same group would read the dead-letter topic from;
 * - the delay levels (see `delay.ts`), shared by every queue of the exchange, declared up to the
 *   highest level a retry needs.
 *
 * @module
 */
import type { Channel } from 'amqplib';
import { DELAY_HEADER_PREFIX, levelDelayMs } from './delay';
import { delayLevelName, workQueueName } from './names';
import type { QueueType } from './options';

/** A topology declarer: the queue type and the naming of one adapter. */
export class Topology {
  /** Levels `0..declaredLevels` exist (as far as this process knows). */
  private declaredLevels = -1;
  private readonly declaredQueues = new Set<string>();
  /** Declarations run one at a time, so that concurrent retries do not declare a level twice. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly exchange: string,
    readonly queueType: QueueType,
    readonly delayResolutionMs: number,
  ) {}

  /** The work queue of a group for a topic. */
  workQueue(group: string, topic: string): string {
    return workQueueName(this.exchange, group, topic);
  }

  /** The exchange a record delayed up to `level` is published to. */
  delayExchange(level: number): string {
    return delayLevelName(this.exchange, levelDelayMs(level, this.delayResolutionMs));
  }

  /** Declares the exchange. */
  async declareExchange(channel: Channel): Promise<void> {
    await channel.assertExchange(this.exchange, 'topic', { durable: true });
  }

  /** Declares the exchange and a queue of this adapter's type bound to it by `topic`. */
  async declareQueue(channel: Channel, queue: string, topic: string): Promise<void> {
    await this.declareExchange(channel);
    await channel.assertQueue(queue, { durable: true, arguments: this.queueArguments() });
    await channel.bindQueue(queue, this.exchange, topic);
  }

  /** Declares a dead-letter queue unless this process already did. */
  ensureQueue(channel: Channel, queue: string, topic: string): Promise<void> {
    if (this.declaredQueues.has(queue)) return Promise.resolve();
    return this.serially(async () => {
      if (this.declaredQueues.has(queue)) return;
      await this.declareQueue(channel, queue, topic);
      this.declaredQueues.add(queue);
    });
  }

  /** Declares the delay levels `0..top` that this process has not declared yet. */
  ensureDelayLevels(channel: Channel, top: number): Promise<void> {
    if (top <= this.declaredLevels) return Promise.resolve();
    return this.serially(async () => {
      // Lower levels first: a level dead-letters into the one below it, which must exist.
      for (let level = this.declaredLevels + 1; level <= top; level++) {
        await this.declareLevel(channel, level);
        this.declaredLevels = level;
      }
    });
  }

  /** Forgets what was declared, after a failure that suggests someone deleted it. */
  forget(): void {
    this.declaredLevels = -1;
    this.declaredQueues.clear();
  }

  private async declareLevel(channel: Channel, level: number): Promise<void> {
    const name = this.delayExchange(level);
    const bit = `${DELAY_HEADER_PREFIX}${level}`;
    // Level 0 (and the pass-through) hand the record to the default exchange, which routes it by
    // its routing key: the name of the work queue it came from.
    const below = level === 0 ? '' : this.delayExchange(level - 1);
    await channel.assertExchange(name, 'headers', { durable: true });
    await channel.assertQueue(name, {
      durable: true,
      arguments: this.delayQueueArguments(levelDelayMs(level, this.delayResolutionMs), below),
    });
    await channel.bindQueue(name, name, '', { 'x-match': 'all', [bit]: '1' });
    if (level === 0) {
      const pass = delayLevelName(this.exchange, 0);
      await channel.assertQueue(pass, { durable: true, arguments: this.delayQueueArguments(0, '') });
      await channel.bindQueue(pass, name, '', { 'x-match': 'all', [bit]: '0' });
    } else {
      await channel.bindExchange(below, name, '', { 'x-match': 'all', [bit]: '0' });
    }
  }

  private queueArguments(): Record<string, unknown> {
    // Classic queues get no argument, so that queues declared before by other clients still match.
    return this.queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {};
  }

  private delayQueueArguments(ttlMs: number, deadLetterExchange: string): Record<string, unknown> {
    const common = { 'x-message-ttl': ttlMs, 'x-dead-letter-exchange': deadLetterExchange };
    if (this.queueType === 'classic') return common;
    // At-least-once dead-lettering: the quorum queue keeps a record until the next hop confirms it.
    return {
      ...common,
      'x-queue-type': 'quorum',
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    };
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
