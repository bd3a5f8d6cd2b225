import { sleep } from '@tidings/core/adapter';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { fromKafkaHeaders } from '../../codec';
import type { InstrumentedClient } from '../client';
import type {
  GroupConsumerHandlers,
  KafkaConsumerFactory,
  KafkaGroupConsumer,
  PartitionBatch,
} from '../consumer';
import { subscriptionAwareAssigner } from './assigner';
import { kafkajs } from './module';
import type { WatchClient } from './producer';

/**
 * Group consumers on kafkajs: its own fetch loop (`consumer.run` with `eachBatch`), commits and
 * resolved offsets left to the subscription, pauses and seeks per partition.
 *
 * @module
 */

/**
 * @internal Group consumers on one kafkajs `Kafka`; `watch` sees each while it runs.
 * @example
 * const consumers = kafkajsConsumers(kafka, (client) => monitor.watch(client));
 * const consumer = consumers.groupConsumer({ groupId: 'billing', ...timings });
 */
export function kafkajsConsumers(kafka: Kafka, watch: WatchClient): KafkaConsumerFactory {
  return {
    groupConsumer(settings) {
      const consumer = kafka.consumer({
        groupId: settings.groupId,
        sessionTimeout: settings.sessionTimeoutMs,
        heartbeatInterval: settings.heartbeatIntervalMs,
        rebalanceTimeout: settings.rebalanceTimeoutMs,
        maxWaitTimeInMs: settings.maxWaitTimeMs,
        maxBytesPerPartition: settings.maxBytesPerPartition,
        allowAutoTopicCreation: false,
        readUncommitted: false,
        // Ours first; kafkajs's round robin second, so that members of an older version can still
        // agree on a protocol with these during a rolling deploy.
        partitionAssigners: [subscriptionAwareAssigner, kafkajs().PartitionAssigners.roundRobin],
      });
      return new KafkajsGroupConsumer(consumer, watch);
    },
  };
}

class KafkajsGroupConsumer implements KafkaGroupConsumer {
  private readonly unlisten: (() => void)[] = [];
  private readonly stopped = new AbortController();

  constructor(
    private readonly consumer: Consumer,
    private readonly watch: WatchClient,
  ) {}

  async run(
    topics: readonly string[],
    { fromBeginning }: { readonly fromBeginning: boolean },
    handlers: GroupConsumerHandlers,
  ): Promise<void> {
    this.listen(handlers);
    await this.consumer.connect();
    await this.subscribe(topics, fromBeginning);
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => handlers.batch(partitionBatch(payload)),
    });
  }

  pause(topic: string, partition: number): void {
    this.consumer.pause([{ topic, partitions: [partition] }]);
  }

  resume(topic: string, partition: number): void {
    this.consumer.resume([{ topic, partitions: [partition] }]);
  }

  resumeTopics(topics: readonly string[]): void {
    this.consumer.resume(topics.map((topic) => ({ topic })));
  }

  seek(topic: string, partition: number, offset: number): void {
    this.consumer.seek({ topic, partition, offset: String(offset) });
  }

  async commit(offsets: Parameters<KafkaGroupConsumer['commit']>[0]): Promise<void> {
    await this.consumer.commitOffsets(
      offsets.map(({ topic, partition, offset, metadata }) => ({
        topic,
        partition,
        offset: String(offset),
        metadata,
      })),
    );
  }

  async disconnect(): Promise<void> {
    this.stopped.abort();
    try {
      await this.consumer.disconnect();
    } finally {
      for (const remove of this.unlisten.splice(0)) remove();
    }
  }

  /** Subscribes, asking again while a topic just made is not served yet (kafkajs's metadata lags). */
  private async subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.consumer.subscribe({ topics: [...topics], fromBeginning });
        return;
      } catch (error) {
        const type = (error as { type?: string }).type;
        if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' || attempt >= 8) throw error;
      }
      if (!(await sleep(Math.min(100 * 2 ** attempt, 2_000), this.stopped.signal))) return;
    }
  }

  private listen(handlers: GroupConsumerHandlers): void {
    const { events } = this.consumer;
    this.unlisten.push(
      this.consumer.on(events.GROUP_JOIN, ({ payload }) =>
        handlers.assigned({ memberId: payload.memberId, partitions: payload.memberAssignment }),
      ),
      this.consumer.on(events.REBALANCING, () => handlers.rebalancing()),
      this.consumer.on(events.CRASH, ({ payload }) => handlers.crashed(payload.error, payload.restart)),
      this.consumer.on(events.FETCH_START, () => handlers.fetchStarted()),
      this.watch(this.consumer as unknown as InstrumentedClient),
    );
  }
}

function partitionBatch({ batch, resolveOffset, isStale }: EachBatchPayload): PartitionBatch {
  return {
    topic: batch.topic,
    partition: batch.partition,
    // kafkajs leaves transaction markers and aborted records out of a read-committed batch.
    records: batch.messages.map((message) => ({
      offset: Number(message.offset),
      key: message.key ?? null,
      value: message.value ?? null,
      headers: fromKafkaHeaders(message.headers),
      control: false,
      aborted: false,
    })),
    lastOffset: Number(batch.lastOffset()),
    isStale,
    resolve: (next) => resolveOffset(String(next - 1)),
  };
}
