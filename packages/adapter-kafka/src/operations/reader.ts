import { ConnectionError, type Redactor } from '@tidings/core/adapter';
import type { KafkaAdminClient } from '../client/admin';
import type { FetchedRecord, KafkaLogReaderClient } from '../client/reader';
import { describeKafkaError } from '../errors';

/**
 * Reading a range of a topic's log without a consumer group, and committing a group's offsets
 * without being its member, on the client's group-less reader (`client/reader.ts`): no group, no
 * offset is committed, the exact offset range is read.
 *
 * @module
 */

/** The most one fetch brings back, for one partition. */
const FETCH_MAX_BYTES = 4 * 1024 * 1024;

/** @internal A fetched record, with its offset as a number. */
export interface LogRecord {
  readonly partition: number;
  readonly offset: number;
  readonly message: FetchedRecord;
}

/**
 * @internal Reads offset ranges of partitions with plain Fetch requests: no consumer group, nothing
 * committed, so no group's position moves. One connection set per adapter, opened on first use.
 */
export class LogReader {
  constructor(
    private readonly client: KafkaLogReaderClient,
    private readonly redactor: Redactor,
  ) {}

  /**
   * Calls `take` with each committed record of `partition` from `from` (inclusive) up to `end`
   * (exclusive), in offset order, until `take` returns false; resolves with the offset after the
   * last record looked at. Transaction markers and records of aborted transactions are skipped. A
   * transaction still open ends the read before it (the broker serves up to the last stable offset).
   */
  async scan(
    topic: string,
    partition: number,
    from: number,
    end: number,
    take: (record: LogRecord) => boolean,
  ): Promise<number> {
    let next = from;
    while (next < end) {
      const fetched = await this.fetch(topic, partition, next);
      let progressed = false;
      for (const message of fetched) {
        const offset = message.offset;
        // A fetch returns whole record batches: the start of the first may lie before `next`.
        if (offset < next) continue;
        if (offset >= end) return next;
        next = offset + 1;
        progressed = true;
        if (message.control || message.aborted) continue;
        if (!take({ partition, offset, message })) return next;
      }
      // Nothing at or after `next` came back: an open transaction, or the end of what is left.
      if (!progressed) return next;
    }
    return next;
  }

  /**
   * Commits `offsets` (partition → offset) of `topic` for `group` as no member of it: the way of
   * Kafka's own `kafka-consumer-groups --reset-offsets`. The coordinator takes it only while the
   * group has no member, and refuses it (`UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION`) otherwise, so a
   * member that joined meanwhile is not overwritten. (kafkajs's `admin.setOffsets` joins the group
   * with a consumer of its own instead, which takes seconds and is a member while it runs.)
   */
  async commitAsNoMember(group: string, topic: string, offsets: ReadonlyMap<number, number>): Promise<void> {
    await this.client.commitAsNoMember(group, topic, offsets);
  }

  /** Disconnects, if connected. */
  close(): Promise<void> {
    return this.client.close();
  }

  private async fetch(topic: string, partition: number, offset: number): Promise<FetchedRecord[]> {
    try {
      return await this.client.fetch(topic, partition, offset, FETCH_MAX_BYTES);
    } catch (error) {
      throw new ConnectionError(
        this.redactor.text(
          `kafka: cannot read ${topic}/${partition} at ${offset}: ${describeKafkaError(error)}`,
        ),
        { cause: this.redactor.error(error) },
      );
    }
  }
}

/** @internal The log start and end (high watermark) of a partition. */
export interface LogEnds {
  readonly low: number;
  readonly high: number;
}

/**
 * @internal The log ends of each partition of `topic`, by partition; empty when it does not exist.
 * Whether it exists is asked first, from the topic list: a metadata request for the topic itself
 * would create it on brokers with `auto.create.topics.enable`.
 */
export async function readEnds(admin: KafkaAdminClient, topic: string): Promise<Map<number, LogEnds>> {
  const out = new Map<number, LogEnds>();
  if (!(await admin.listTopics()).includes(topic)) return out;
  for (const { partition, low, high } of await admin.topicEnds(topic)) {
    out.set(partition, { low, high });
  }
  return out;
}
