import { ConnectionError, type OutgoingRecord, type Redactor } from '@tidings/core/adapter';
import type { KafkaProducerFactory, KafkaTransactionalProducer, WireMessage } from '../client/producer';
import { estimateSize, toKafkaMessage } from '../codec';
import { describeKafkaError } from '../errors';

/**
 * The producers of redrives: transactional producers, so that a redriven copy and the
 * ledger entry that removes its dead letter become visible together or not at all. The adapter's
 * consumers read committed records only (`readUncommitted: false`), as does the ledger's reader: a
 * redrive killed half-way leaves no copy without its removal, nor a removal without its copy.
 *
 * The transactional id is the dead-letter topic's, the same in every process: the next redrive of
 * that store, wherever it runs, fences a killed one and aborts its open transaction at once. (With
 * an id of its own, the open transaction would hold back every read-committed reader of the retry
 * topic and the ledger until `transactionTimeout` passed.) Two redrives of one store at once fence
 * each other: the older one fails.
 *
 * @module
 */

/** A transaction left open by a process that died is aborted by the broker after this long. */
const TRANSACTION_TIMEOUT_MS = 30_000;

/** @internal One redrive producer per dead-letter topic, made on first use. */
export class RedriveProducers {
  private readonly producers = new Map<string, RedriveProducer>();

  constructor(
    private readonly factory: KafkaProducerFactory,
    private readonly maxMessageBytes: number,
    private readonly redactor: Redactor,
  ) {}

  /** Sends `records` in one transaction of `deadLetterTopic`'s producer; resolves once committed. */
  send(deadLetterTopic: string, records: readonly OutgoingRecord[]): Promise<void> {
    let producer = this.producers.get(deadLetterTopic);
    if (producer === undefined) {
      producer = new RedriveProducer(
        this.factory,
        `tidings-redrive.${deadLetterTopic}`,
        this.maxMessageBytes,
        this.redactor,
      );
      this.producers.set(deadLetterTopic, producer);
    }
    return producer.send(records);
  }

  /** Disconnects every producer. */
  async close(): Promise<void> {
    await Promise.all([...this.producers.values()].map((producer) => producer.close()));
    this.producers.clear();
  }
}

/** Sends groups of records in one Kafka transaction each, one transaction at a time. */
class RedriveProducer {
  private producer: Promise<KafkaTransactionalProducer> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly producers: KafkaProducerFactory,
    private readonly transactionalId: string,
    private readonly maxMessageBytes: number,
    private readonly redactor: Redactor,
  ) {}

  /** Sends `records` in one transaction; resolves once it is committed. */
  send(records: readonly OutgoingRecord[]): Promise<void> {
    const run = this.queue.then(() => this.transact(records));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Disconnects, if connected. */
  async close(): Promise<void> {
    await this.queue;
    const producer = await this.producer?.catch(() => undefined);
    this.producer = undefined;
    await producer?.disconnect();
  }

  private async transact(records: readonly OutgoingRecord[]): Promise<void> {
    let producer: KafkaTransactionalProducer;
    try {
      producer = await this.connected();
    } catch (error) {
      throw this.failure('connect the redrive producer', error);
    }
    const transaction = await producer.transaction().catch((error: unknown) => {
      throw this.failure('begin a redrive transaction', error);
    });
    try {
      // Batches under the broker's record batch limit, as the publisher's.
      let chunk: { topic: string; message: WireMessage }[] = [];
      let bytes = 0;
      const flush = async (): Promise<void> => {
        if (chunk.length === 0) return;
        const byTopic = new Map<string, WireMessage[]>();
        for (const { topic, message } of chunk) byTopic.set(topic, [...(byTopic.get(topic) ?? []), message]);
        await transaction.send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
        chunk = [];
        bytes = 0;
      };
      for (const record of records) {
        const size = estimateSize(record);
        if (chunk.length > 0 && bytes + size > this.maxMessageBytes) await flush();
        chunk.push({ topic: record.topic, message: toKafkaMessage(record) });
        bytes += size;
      }
      await flush();
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      // A producer whose transaction failed may be fenced or confused: the next send starts anew.
      await this.reset();
      throw this.failure('redrive', error);
    }
  }

  private connected(): Promise<KafkaTransactionalProducer> {
    this.producer ??= (async () => {
      // The publisher's partitioner (the factory's only one): a copy redriven to the original topic
      // lands on its key's partition, behind that key's earlier records.
      const producer = this.producers.transactionalProducer({
        transactionalId: this.transactionalId,
        allowAutoTopicCreation: false,
        transactionTimeoutMs: TRANSACTION_TIMEOUT_MS,
      });
      try {
        await producer.connect();
      } catch (error) {
        this.producer = undefined;
        throw error;
      }
      return producer;
    })();
    return this.producer;
  }

  private async reset(): Promise<void> {
    const producer = await this.producer?.catch(() => undefined);
    this.producer = undefined;
    await producer?.disconnect();
  }

  private failure(what: string, error: unknown): ConnectionError {
    return new ConnectionError(this.redactor.text(`kafka: cannot ${what}: ${describeKafkaError(error)}`), {
      cause: this.redactor.error(error),
    });
  }
}
