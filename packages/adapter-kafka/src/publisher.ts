import { ClosedError, ConfigError, type OutgoingRecord, PublishError } from '@tidings/core/adapter';
import type { KafkaProducerClient, WireMessage } from './client/producer';
import { estimateSize, toKafkaMessage } from './codec';
import type { KafkaConnection } from './connection';
import { connectionError, isConnectionProblem, publishError } from './errors';
import type { AdapterLog } from './logging';
import type { ResolvedKafkaOptions } from './options';

/** One `publish` call: it resolves when all its records are acknowledged. */
interface Call {
  remaining: number;
  done: boolean;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  /** `performance.now()` after which the call fails with a timeout. */
  readonly deadline: number;
  /** The topic its timeout error names: its first record's. */
  readonly topic: string;
}

interface Pending {
  readonly topic: string;
  readonly message: WireMessage;
  readonly size: number;
  readonly call: Call;
}

/**
 * @internal The adapter's producer: an idempotent producer of the client (`acks: -1`) behind a queue that
 * sends one batch at a time.
 *
 * One send at a time is what keeps kafkajs's idempotence sound: kafkajs gives a failed request's
 * sequence numbers back before retrying it, so a second request sent meanwhile could take them and
 * be dropped by the broker as a duplicate. Records queued while a send is in flight go out together
 * in the next one, so concurrency still turns into batches. After a send fails for good the
 * producer is replaced, so a request that reached the broker without our knowing cannot make the
 * broker drop later records as duplicates of it.
 */
export class Publisher {
  private producer: KafkaProducerClient | undefined;
  private connecting: Promise<KafkaProducerClient> | undefined;
  private queue: Pending[] = [];
  private head = 0;
  private sending: Promise<void> | undefined;
  private closed = false;
  /**
   * Calls in the order they came, so in the order of their deadlines (one timeout for all): one
   * timer, armed for the oldest open call, stands for them all instead of a timer per call.
   */
  private calls: Call[] = [];
  private callsHead = 0;
  /** Calls not yet done; the timer is cleared when none is. */
  private open = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly options: ResolvedKafkaOptions,
    private readonly log: AdapterLog,
  ) {
    if (!connection.producers.compressionAvailable(options.producer.compression)) {
      throw new ConfigError(
        'producer.compression',
        `"${options.producer.compression}" needs a codec registered in kafkajs's CompressionCodecs first`,
      );
    }
  }

  /** Connects the producer; rejects with a `ConnectionError` when the brokers cannot be reached. */
  async connect(): Promise<void> {
    await this.ensureProducer();
  }

  /** Queues records and resolves once the broker acknowledged all of them. */
  publish(records: readonly OutgoingRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('cannot publish: the kafka adapter is closed'));
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timeoutMs = this.options.producer.publishTimeoutMs;
      const call: Call = {
        remaining: records.length,
        done: false,
        resolve,
        reject,
        deadline: performance.now() + timeoutMs,
        topic: records[0]!.topic,
      };
      this.calls.push(call);
      this.open++;
      this.timer ??= setTimeout(() => this.expire(), timeoutMs);
      for (const record of records) {
        this.queue.push({
          topic: record.topic,
          message: toKafkaMessage(record),
          size: estimateSize(record),
          call,
        });
      }
      this.sending ??= this.drain();
    });
  }

  /** Refuses new records, lets the queued ones go out, then disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    await this.sending;
    await this.connecting?.catch(() => undefined);
    await this.resetProducer();
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        const chunk = this.nextChunk();
        if (chunk === undefined) return;
        if (chunk.length > 0) await this.send(chunk);
      }
    } finally {
      this.sending = undefined;
    }
  }

  /**
   * Takes queued records up to `maxMessageBytes` in total, so that no partition's record batch can
   * exceed the broker's limit (kafkajs puts a request's records for one partition into one batch).
   * Records of calls that already failed are dropped. Undefined when the queue is empty.
   */
  private nextChunk(): Pending[] | undefined {
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
      return undefined;
    }
    const chunk: Pending[] = [];
    let bytes = 0;
    while (this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      if (next.call.done) {
        this.head++;
        continue;
      }
      if (chunk.length > 0 && bytes + next.size > this.options.maxMessageBytes) break;
      chunk.push(next);
      bytes += next.size;
      this.head++;
    }
    if (this.head > 4_096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return chunk;
  }

  private async send(chunk: readonly Pending[]): Promise<void> {
    const byTopic = new Map<string, WireMessage[]>();
    for (const { topic, message } of chunk) {
      let messages = byTopic.get(topic);
      if (messages === undefined) {
        messages = [];
        byTopic.set(topic, messages);
      }
      messages.push(message);
    }
    try {
      const producer = await this.ensureProducer();
      await producer.send(
        [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        { compression: this.options.producer.compression, timeoutMs: this.options.requestTimeoutMs },
      );
    } catch (error) {
      const failure = publishError(error, [...byTopic.keys()], this.options.redactor);
      if (isConnectionProblem(error)) this.connection.monitor.lost(error);
      this.log.log('warn', failure.message, { topics: [...byTopic.keys()] });
      for (const { call } of chunk) this.fail(call, failure);
      await this.resetProducer();
      return;
    }
    for (const { call } of chunk) {
      if (call.done) continue;
      call.remaining--;
      if (call.remaining === 0) {
        this.finish(call);
        call.resolve();
      }
    }
  }

  private fail(call: Call, error: Error): void {
    if (call.done) return;
    this.finish(call);
    call.reject(error);
  }

  /** Marks a call done; with none left open the timer goes, so that it holds no process open. */
  private finish(call: Call): void {
    call.done = true;
    this.open--;
    if (this.open > 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.calls = [];
    this.callsHead = 0;
  }

  /** Fails the calls past their deadline, oldest first, and arms the timer for the next open one. */
  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.callsHead < this.calls.length) {
      const call = this.calls[this.callsHead]!;
      if (call.done) {
        this.callsHead++;
        continue;
      }
      if (call.deadline > now) {
        this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(call.deadline - now)));
        break;
      }
      this.callsHead++;
      const timeoutMs = this.options.producer.publishTimeoutMs;
      this.fail(
        call,
        new PublishError(
          `kafka: publishing to "${call.topic}" was not acknowledged within ${timeoutMs} ms; it may still complete`,
          { topic: call.topic },
        ),
      );
    }
    if (this.callsHead > 4_096 && this.callsHead * 2 > this.calls.length) {
      this.calls = this.calls.slice(this.callsHead);
      this.callsHead = 0;
    }
  }

  private ensureProducer(): Promise<KafkaProducerClient> {
    if (this.producer !== undefined) return Promise.resolve(this.producer);
    if (this.closed && this.sending === undefined) {
      return Promise.reject(new ClosedError('cannot publish: the kafka adapter is closed'));
    }
    this.connecting ??= (async () => {
      const producer = this.connection.producers.producer({
        allowAutoTopicCreation: this.options.topics.create,
        retries: this.options.producer.retries,
      });
      try {
        await producer.connect();
      } catch (error) {
        await producer.disconnect();
        throw connectionError(error, this.options.brokers, this.options.redactor);
      }
      this.producer = producer;
      return producer;
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async resetProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect();
  }
}
