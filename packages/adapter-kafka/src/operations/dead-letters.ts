import {
  addressTo,
  ConfigError,
  DEAD_LETTER_HEADERS,
  type DeadLetterLocation,
  type DeadLetterPage,
  type RedriveOutcome,
  redriveHeaders,
  type StoredDeadLetter,
} from '@tidings/core/adapter';
import type { KafkaAdminClient } from '../client/admin';
import type { ResolvedKafkaOptions } from '../options';
import { KAFKA_RETRY_HEADERS } from '../retry-topics';
import { assignedTopics } from './groups';
import { type Ledgers, letterId, parseLetterId } from './ledger';
import { type LogEnds, type LogReader, readEnds } from './reader';
import type { RedriveProducers } from './redrive-producer';

/**
 * Dead letters of the Kafka adapter: browsing, redriving and purging them. A dead letter's id is
 * `<partition>:<offset>` in its dead-letter topic; pages list partition after partition, each in
 * offset order. Removal is an entry in the topic's ledger (see `ledger.ts`).
 *
 * @module
 */

const EMPTY = new Uint8Array();
/** `topic/partition@offset`, the notation of `IncomingRecord.position`. */
const POSITION = /^(.+)\/(\d+)@(\d+)$/;

/** @internal What the dead-letter operations need from the adapter. */
export interface DeadLetterOpsDeps {
  readonly admin: () => Promise<KafkaAdminClient>;
  readonly reader: LogReader;
  readonly ledgers: Ledgers;
  readonly redrives: RedriveProducers;
  readonly retryTopics: ResolvedKafkaOptions['retryTopics'];
}

/** @internal The {@link DeadLetterStore} side of the Kafka adapter. */
export class KafkaDeadLetters {
  constructor(private readonly deps: DeadLetterOpsDeps) {}

  async read(at: DeadLetterLocation, cursor: string | undefined, limit: number): Promise<DeadLetterPage> {
    const after = cursor === undefined ? undefined : parseLetterId(cursor);
    if (cursor !== undefined && after === undefined) {
      throw new ConfigError('cursor', `"${cursor}" is not a Kafka dead letter id (<partition>:<offset>)`);
    }
    // The high watermarks of this moment bound the page: letters written meanwhile come next time.
    const ends = await readEnds(await this.deps.admin(), at.deadLetterTopic);
    if (ends.size === 0) return { letters: [], cursor: undefined };
    const removed = await this.deps.ledgers.removed(at.deadLetterTopic);
    const letters: StoredDeadLetter[] = [];
    // One more than asked: whether another letter follows decides the page's cursor.
    const want = limit + 1;
    for (const partition of [...ends.keys()].sort((a, b) => a - b)) {
      if (after !== undefined && partition < after.partition) continue;
      const { low, high } = ends.get(partition)!;
      const from = Math.max(low, after !== undefined && partition === after.partition ? after.offset + 1 : 0);
      await this.deps.reader.scan(at.deadLetterTopic, partition, from, high, ({ offset, message }) => {
        const id = letterId(partition, offset);
        if (removed.has(id)) return true;
        letters.push({
          id,
          key: message.key?.toString() ?? undefined,
          headers: message.headers,
          body: message.value ?? EMPTY,
        });
        return letters.length < want;
      });
      if (letters.length >= want) break;
    }
    const more = letters.length > limit;
    if (more) letters.length = limit;
    return { letters, cursor: more ? letters.at(-1)!.id : undefined };
  }

  async redrive(at: DeadLetterLocation, ids: readonly string[]): Promise<RedriveOutcome[]> {
    const stored = await this.stored(at, ids);
    if (stored.letters.size === 0) return ids.map((id) => ({ id, status: 'missing' }));
    const target = await this.redriveTarget(at);
    const redriven: string[] = [];
    const outcomes = ids.map((id): RedriveOutcome => {
      const letter = stored.letters.get(id);
      if (letter === undefined) return { id, status: 'missing' };
      if ('refused' in target) return { id, status: 'refused', reason: target.refused };
      redriven.push(id);
      return { id, status: 'redriven' };
    });
    if (redriven.length > 0 && !('refused' in target)) {
      const ids = [...new Set(redriven)];
      const records = ids.map((id) => {
        const letter = stored.letters.get(id)!;
        // A reduced letter may have left a long key out; the failure metadata carries it.
        const key = letter.key ?? letter.headers[DEAD_LETTER_HEADERS.originalKey];
        const headers = target.addressed ? addressedCopyHeaders(letter, at.group) : retryCopyHeaders(letter);
        return { topic: target.topic, key, headers, body: letter.body };
      });
      // The redelivery and the removal in one transaction: the broker confirms both or neither, so
      // a redrive killed half-way leaves each letter either stored or redriven, never both.
      await this.deps.redrives.send(at.deadLetterTopic, [
        ...records,
        ...(await this.deps.ledgers.entries(at.deadLetterTopic, ids)),
      ]);
      await this.trimQuietly(at, ids, stored.ends);
    }
    return outcomes;
  }

  async delete(at: DeadLetterLocation, ids: readonly string[]): Promise<number> {
    const stored = await this.stored(at, ids);
    const gone = [...stored.letters.keys()];
    if (gone.length === 0) return 0;
    await this.deps.ledgers.remove(at.deadLetterTopic, gone);
    await this.trimQuietly(at, gone, stored.ends);
    return gone.length;
  }

  /** The named letters that are stored (not removed, not below the log start), read from the log. */
  private async stored(
    at: DeadLetterLocation,
    ids: readonly string[],
  ): Promise<{ letters: Map<string, StoredDeadLetter>; ends: Map<number, LogEnds> }> {
    const ends = await readEnds(await this.deps.admin(), at.deadLetterTopic);
    const letters = new Map<string, StoredDeadLetter>();
    if (ends.size === 0) return { letters, ends };
    const removed = await this.deps.ledgers.removed(at.deadLetterTopic);
    const wanted = new Map<number, Set<number>>();
    for (const id of ids) {
      const letter = parseLetterId(id);
      const range = letter === undefined ? undefined : ends.get(letter.partition);
      if (letter === undefined || range === undefined || removed.has(id)) continue;
      if (letter.offset < range.low || letter.offset >= range.high) continue;
      const offsets = wanted.get(letter.partition) ?? new Set();
      offsets.add(letter.offset);
      wanted.set(letter.partition, offsets);
    }
    for (const [partition, offsets] of wanted) {
      const sorted = [...offsets].sort((a, b) => a - b);
      let left = sorted.length;
      await this.deps.reader.scan(at.deadLetterTopic, partition, sorted[0]!, sorted.at(-1)! + 1, (record) => {
        if (!offsets.has(record.offset)) return true;
        const id = letterId(partition, record.offset);
        const { message } = record;
        letters.set(id, {
          id,
          key: message.key?.toString() ?? undefined,
          headers: message.headers,
          body: message.value ?? EMPTY,
        });
        return --left > 0;
      });
    }
    return { letters, ends };
  }

  /**
   * Where a redrive goes. With retry topics, the group's first one, which only that group reads,
   * with no due time, so its members deliver the record at once. Without (the group orders by key,
   * or `retryTopics: false`), the original topic, addressed to the group by a header that every
   * other group's subscription skips: refused when the group does not read that topic, since nobody
   * would handle the copy.
   */
  private async redriveTarget(
    at: DeadLetterLocation,
  ): Promise<{ topic: string; addressed: boolean } | { refused: string }> {
    const { retryTopics } = this.deps;
    const admin = await this.deps.admin();
    if (retryTopics !== false) {
      const topic = retryTopics.name(at.topic, at.group, retryTopics.tiersMs[0]!);
      if ((await readEnds(admin, topic)).size > 0) return { topic, addressed: false };
    }
    if ((await readEnds(admin, at.topic)).size === 0) {
      return {
        refused: `topic "${at.topic}" does not exist: a redrive without retry topics publishes to it`,
      };
    }
    if (!(await this.readsTopic(admin, at))) {
      return {
        refused: `group "${at.group}" has no committed offsets on topic "${at.topic}" and no member assigned to it: every other group skips a redrive addressed to it, so the record would be lost`,
      };
    }
    return { topic: at.topic, addressed: true };
  }

  /** Whether `at.group` reads `at.topic`: it committed offsets on it, or a member holds a partition. */
  private async readsTopic(admin: KafkaAdminClient, at: DeadLetterLocation): Promise<boolean> {
    const offsets = await admin.groupOffsets(at.group, [at.topic]);
    if (offsets.some(({ partitions }) => partitions.some((p) => p.offset >= 0))) return true;
    const groups = await admin.describeGroups([at.group]);
    return groups.some((group) => assignedTopics(group).has(at.topic));
  }

  /**
   * Trims after a removal that is done: a failure here (no `Delete` permission for
   * `DeleteRecords`, a broker gone meanwhile) leaves the letters removed through the ledger, and a
   * later removal trims again, so it does not fail the operation.
   */
  private async trimQuietly(
    at: DeadLetterLocation,
    ids: readonly string[],
    ends: ReadonlyMap<number, LogEnds>,
  ): Promise<void> {
    await this.trim(at, ids, ends).catch(() => undefined);
  }

  /**
   * After `ids` were removed: moves each partition's log start past its prefix of removed letters,
   * and the ledger's past the entries of letters no longer in the log.
   */
  private async trim(
    at: DeadLetterLocation,
    ids: readonly string[],
    ends: ReadonlyMap<number, LogEnds>,
  ): Promise<void> {
    const { ledgers, reader, admin } = this.deps;
    const removed = new Set((await ledgers.removed(at.deadLetterTopic)).keys());
    for (const id of ids) removed.add(id);
    const lows = new Map<number, number>();
    const moves: { partition: number; offset: number }[] = [];
    for (const [partition, { low, high }] of ends) {
      // The first letter still stored: the log may start there.
      let first = high;
      await reader.scan(at.deadLetterTopic, partition, low, high, ({ offset }) => {
        if (removed.has(letterId(partition, offset))) return true;
        first = offset;
        return false;
      });
      lows.set(partition, first);
      if (first > low) moves.push({ partition, offset: first });
    }
    if (moves.length > 0) {
      await (await admin()).deleteRecords(at.deadLetterTopic, moves);
    }
    await ledgers.trim(at.deadLetterTopic, lows);
  }
}

/**
 * The headers of a copy redriven to the original topic: the letter's own without the failure
 * metadata, the attempt and any retry-topic state (the copy is a record of the topic in its own
 * right), addressed to `group`.
 */
function addressedCopyHeaders(letter: StoredDeadLetter, group: string): Record<string, string> {
  const headers = addressTo(letter.headers, group);
  for (const name of Object.values(KAFKA_RETRY_HEADERS)) delete headers[name];
  return headers;
}

/**
 * The headers of a copy redriven through a retry topic: the letter's own without the failure metadata and the attempt
 * (so it is attempt 1), without a due time (due at once), and with where it was first published
 * when the letter says so and no earlier retry hop wrote it.
 */
function retryCopyHeaders(letter: StoredDeadLetter): Record<string, string> {
  const headers = redriveHeaders(letter.headers);
  delete headers[KAFKA_RETRY_HEADERS.dueAt];
  const original = POSITION.exec(letter.headers[DEAD_LETTER_HEADERS.originalPosition] ?? '');
  if (original !== null && headers[KAFKA_RETRY_HEADERS.originalTopic] === undefined) {
    headers[KAFKA_RETRY_HEADERS.originalTopic] = original[1]!;
    headers[KAFKA_RETRY_HEADERS.originalPartition] = original[2]!;
    headers[KAFKA_RETRY_HEADERS.originalOffset] = original[3]!;
  }
  return headers;
}
