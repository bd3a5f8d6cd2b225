import type {
  AdapterCapabilities,
  DeadLetterSettlement,
  IncomingRecord,
  OutgoingRecord,
} from '@tidings/core/adapter';
import type { JetStreamClient } from 'nats';
import { headerLineBytes, type OutgoingMessage, prepareMessages } from '../codec';
import type { Link } from '../connection';
import {
  deadLetterMessage,
  JETSTREAM_MAX_HEADER_BYTES,
  type NatsLimits,
  type Reduced,
} from '../dead-letters';
import { publishFailure } from '../errors';
import type { ResolvedNatsOptions } from '../options';
import { partitionOfKey, partitionSubject } from '../subjects';

/** What the publisher learned of the stream when the adapter connected. */
export interface StreamTarget {
  readonly js: JetStreamClient;
  /** Partitions per topic. */
  readonly partitions: number;
  /** The stream's `max_msg_size`, when it has one. */
  readonly maxMsgSize: number | undefined;
}

/**
 * Sends records to the stream: each to `<prefix>.<topic>.<partition>` (the key picks the
 * partition; records without one spread), with the event id as `Nats-Msg-Id` so that the duplicate
 * window drops a repeat, and resolves once the stream has stored every one of them.
 */
export class JetStreamPublisher {
  private nextPartition = 0;
  /** `Nats-Expected-Stream: <stream>`, which nats.js adds to every publish. */
  private readonly expectHeaderBytes: number;
  private readonly idHeader: string;

  constructor(
    private readonly link: Link,
    private readonly options: ResolvedNatsOptions,
    private readonly capabilities: AdapterCapabilities,
    private readonly target: StreamTarget,
  ) {
    this.expectHeaderBytes = headerLineBytes('Nats-Expected-Stream', options.stream.name);
    this.idHeader = `${capabilities.headerPrefix}id`;
  }

  /** Checks every record, then publishes them all and waits for the stream's acks. */
  async publish(records: readonly OutgoingRecord[]): Promise<void> {
    const limits = this.limits();
    const messages = prepareMessages(records, {
      capabilities: this.capabilities,
      maxPayloadBytes: limits.maxPayloadBytes,
      maxHeaderBytes: limits.maxHeaderBytes,
      addedHeaderBytes: limits.addedHeaderBytes,
      redactor: this.options.redactor,
      subjectOf: (record) =>
        partitionSubject(this.options.prefix, record.topic, this.partitionOf(record.key)),
      msgIdOf: (record) => {
        const id = record.headers[this.idHeader];
        // Per topic: one stream holds every topic, and one event may rightly go to two of them.
        return id === undefined || id === '' ? undefined : `${record.topic} ${id}`;
      },
    });
    await this.send(messages, 'publish');
  }

  /**
   * Publishes the dead letter of `record`, fitted to the server's limits (`minimal`: as small as
   * it gets, after the server refused a copy for its size), and resolves with what was cut once
   * the stream has stored it. `msgId` makes a repeat of it a duplicate the stream drops.
   */
  async publishDeadLetter(
    record: IncomingRecord,
    settlement: DeadLetterSettlement,
    msgId: string,
    minimal: boolean,
  ): Promise<Reduced> {
    const message = deadLetterMessage(record, settlement, {
      limits: this.limits(),
      subjectOf: (topic, key) => partitionSubject(this.options.prefix, topic, this.partitionOf(key)),
      msgId,
      minimal,
      redactor: this.options.redactor,
    });
    await this.send([message], 'dead letter');
    return message.reduced;
  }

  /**
   * Publishes records one by one in the order given (one connection: the stream stores them in
   * that order), each with its own `Nats-Msg-Id`, and resolves with each one's failure, or
   * undefined once the stream stored it: a redrive reports on every record, not on the batch.
   */
  async publishEach(
    records: readonly { readonly record: OutgoingRecord; readonly msgId: string }[],
  ): Promise<(Error | undefined)[]> {
    const limits = this.limits();
    const streamName = this.options.stream.name;
    const timeout = this.options.publishTimeoutMs;
    await this.link.whenConnected(timeout);
    const dropped = this.link.whenDropped();
    const sent = records.map(async ({ record, msgId }): Promise<Error | undefined> => {
      let message: OutgoingMessage;
      try {
        [message] = prepareMessages([record], {
          capabilities: this.capabilities,
          maxPayloadBytes: limits.maxPayloadBytes,
          maxHeaderBytes: limits.maxHeaderBytes,
          addedHeaderBytes: limits.addedHeaderBytes,
          redactor: this.options.redactor,
          subjectOf: () => partitionSubject(this.options.prefix, record.topic, this.partitionOf(record.key)),
          msgIdOf: () => msgId,
        }) as [OutgoingMessage];
      } catch (error) {
        return error as Error;
      }
      try {
        await Promise.race([
          this.target.js.publish(message.subject, message.body, {
            headers: message.headers,
            timeout,
            expect: { streamName },
          }),
          dropped,
        ]);
        return undefined;
      } catch (error) {
        return publishFailure(error, record.topic, 'redrive', this.options.redactor);
      }
    });
    return Promise.all(sent);
  }

  /**
   * What the server takes: its `max_payload` (headers and body; read from the server the client is
   * connected to now), the stream's `max_msg_size` when lower, and JetStream's 64 KiB of headers.
   */
  private limits(): NatsLimits {
    const maxPayload = this.link.connection?.info?.max_payload ?? Number.MAX_SAFE_INTEGER;
    return {
      maxPayloadBytes: Math.min(maxPayload, this.target.maxMsgSize ?? Number.MAX_SAFE_INTEGER),
      maxHeaderBytes: JETSTREAM_MAX_HEADER_BYTES,
      addedHeaderBytes: this.expectHeaderBytes,
    };
  }

  private async send(messages: readonly OutgoingMessage[], what: string): Promise<void> {
    const streamName = this.options.stream.name;
    const timeout = this.options.publishTimeoutMs;
    await this.link.whenConnected(timeout);
    const dropped = this.link.whenDropped();
    await settleAll(
      messages.map((message) =>
        Promise.race([
          this.target.js.publish(message.subject, message.body, {
            headers: message.headers,
            timeout,
            expect: { streamName },
          }),
          dropped,
        ]),
      ),
      (error, index) => publishFailure(error, messages[index]!.topic, what, this.options.redactor),
    );
  }

  private partitionOf(key: string | undefined): number {
    const { partitions } = this.target;
    if (key !== undefined) return partitionOfKey(key, partitions);
    // Records without a key spread over the partitions.
    this.nextPartition = (this.nextPartition + 1) % partitions;
    return this.nextPartition;
  }
}

/**
 * Waits for every publish of a batch, then rejects with the first failure: waiting for all keeps a
 * failed batch from leaving unobserved rejections behind, and tells the caller about the earliest
 * record that may be missing.
 */
async function settleAll(
  attempts: readonly Promise<unknown>[],
  failure: (error: unknown, index: number) => Error,
): Promise<void> {
  const results = await Promise.allSettled(attempts);
  const index = results.findIndex((result) => result.status === 'rejected');
  if (index !== -1) throw failure((results[index] as PromiseRejectedResult).reason, index);
}
