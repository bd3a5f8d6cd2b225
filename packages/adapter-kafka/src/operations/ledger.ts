import type { OutgoingRecord } from '@tidings/core/adapter';
import type { KafkaAdminClient } from '../client/admin';
import type { Publisher } from '../publisher';
import { untilServed } from '../topics';
import { type LogReader, readEnds } from './reader';

/**
 * The removal ledger of a dead-letter topic. Kafka cannot delete one record from a log, so a
 * removed dead letter is a record in a companion topic, `<deadLetterTopic>.removed`, keyed by the
 * letter's id; browsing skips those. When a partition's oldest letters are all removed, the log
 * start of the dead-letter topic is moved past them (`DeleteRecords`), and then the ledger's own
 * start past the entries that only named those: the ledger stays as small as the gaps operators
 * left. It is not compacted (Kafka refuses `DeleteRecords` on compacted topics) and keeps its
 * records for ever (`retention.ms=-1`): an entry that expired would bring its letter back.
 *
 * @module
 */

/** The ledger topic of a dead-letter topic. */
export function ledgerTopic(deadLetterTopic: string): string {
  return `${deadLetterTopic}.removed`;
}

/** What one process knows of a ledger: the removed ids with their ledger offsets, read up to `next`. */
interface LedgerState {
  next: number;
  /** Where this process last moved the ledger's start. */
  start: number;
  readonly removed: Map<string, number>;
}

const REMOVED = Buffer.from('removed');

/** @internal A dead letter's id: `<partition>:<offset>`. */
export function letterId(partition: number, offset: number): string {
  return `${partition}:${offset}`;
}

/** @internal The partition and offset of a dead letter's id, or undefined when it is not one. */
export function parseLetterId(id: string): { partition: number; offset: number } | undefined {
  const match = /^(\d{1,9}):(\d{1,15})$/.exec(id);
  return match === null ? undefined : { partition: Number(match[1]), offset: Number(match[2]) };
}

/** @internal The removal ledgers of an adapter's dead-letter topics, read incrementally. */
export class Ledgers {
  private readonly states = new Map<string, LedgerState>();
  private readonly made = new Map<string, Promise<void>>();

  constructor(
    private readonly admin: () => Promise<KafkaAdminClient>,
    private readonly reader: LogReader,
    private readonly publisher: Publisher,
    private readonly replicationFactor: number | undefined,
  ) {}

  /**
   * The ids removed from `deadLetterTopic`, read on from where the last call stopped (every process
   * writes to the same ledger, so each call reads what others added since).
   */
  async removed(deadLetterTopic: string): Promise<ReadonlyMap<string, number>> {
    const topic = ledgerTopic(deadLetterTopic);
    let state = this.states.get(topic);
    if (state === undefined) {
      state = { next: 0, start: 0, removed: new Map() };
      this.states.set(topic, state);
    }
    const ends = await readEnds(await this.admin(), topic);
    const end = ends.get(0);
    if (end === undefined) return state.removed;
    const current = state;
    const from = Math.max(current.next, end.low);
    // Up to where the read got: an open transaction stops it short of the high watermark, and the
    // next read goes on from there.
    current.next = await this.reader.scan(topic, 0, from, end.high, ({ offset, message }) => {
      const id = message.key?.toString();
      if (id !== undefined && !current.removed.has(id)) current.removed.set(id, offset);
      return true;
    });
    return current.removed;
  }

  /**
   * Writes `ids` to the ledger of `deadLetterTopic`; resolves once the broker has them (the
   * producer waits for every in-sync replica).
   */
  async remove(deadLetterTopic: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.publisher.publish(await this.entries(deadLetterTopic, ids));
    // The offsets are not known here: the next read finds them (an entry read later keeps the first).
  }

  /** The ledger records that remove `ids`, for a caller that writes them itself; makes the ledger. */
  async entries(deadLetterTopic: string, ids: readonly string[]): Promise<OutgoingRecord[]> {
    const topic = ledgerTopic(deadLetterTopic);
    await this.ensure(topic);
    return ids.map((id) => ({ topic, key: id, headers: {}, body: REMOVED }));
  }

  /**
   * Moves the ledger's start past the entries that name letters below their partition's log start
   * (`lows`, by partition of the dead-letter topic): those letters are gone from the log itself.
   */
  async trim(deadLetterTopic: string, lows: ReadonlyMap<number, number>): Promise<void> {
    const topic = ledgerTopic(deadLetterTopic);
    const state = this.states.get(topic);
    if (state === undefined) return;
    let keepFrom = state.next;
    for (const [id, at] of state.removed) {
      const letter = parseLetterId(id);
      const low = letter === undefined ? undefined : lows.get(letter.partition);
      if (low === undefined || letter!.offset >= low) keepFrom = Math.min(keepFrom, at);
      else state.removed.delete(id);
    }
    if (keepFrom <= state.start) return;
    state.start = keepFrom;
    const admin = await this.admin();
    await admin.deleteRecords(topic, [{ partition: 0, offset: keepFrom }]);
  }

  /** Creates the ledger topic: one partition (its records are small), kept for ever. */
  private ensure(topic: string): Promise<void> {
    let made = this.made.get(topic);
    if (made === undefined) {
      made = (async () => {
        const admin = await this.admin();
        await admin.createTopic(
          {
            topic,
            partitions: 1,
            ...(this.replicationFactor === undefined ? {} : { replicationFactor: this.replicationFactor }),
            configs: { 'cleanup.policy': 'delete', 'retention.ms': '-1', 'retention.bytes': '-1' },
          },
          { waitForLeaders: false },
        );
        // Created now or by another process just before: read and written only once served.
        await untilServed(admin, topic);
      })();
      this.made.set(topic, made);
      made.catch(() => this.made.delete(topic));
    }
    return made;
  }
}
