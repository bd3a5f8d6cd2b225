import {
  addressTo,
  ClosedError,
  ConfigError,
  ConnectionError,
  type DeadLetterLocation,
  type DeadLetterPage,
  type RecordHeaders,
  type Redactor,
  type RedriveOutcome,
  type ReplayFrom,
  type StoredDeadLetter,
} from '@tidings/core/adapter';
import {
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamManager,
  type MsgHdrs,
  NatsError,
  RetentionPolicy,
  type StoredMsg,
} from 'nats';
import { fromNatsHeaders } from '../codec';
import { apiErrorCode, connectionFailure, isNotFound, JS_ERR } from '../errors';
import { consumerName, topicFilter } from '../subjects';
import { storedHeaderBlock } from './advisories';
import type { JetStreamPublisher } from './publisher';

/**
 * Why a stream that does not keep records as a log cannot replay: a replay recreates the group's
 * consumer, and on an interest (or work-queue) stream deleting it removes what only it owed.
 */
export const INTEREST_REPLAY =
  "a replay recreates the group's consumers, and on a stream with interest retention that would delete the records only this group still owes; use retention 'limits'";

/** What the operations need of the connected adapter. */
export interface OperationsContext {
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly prefix: string;
  readonly partitions: number;
  readonly publisher: JetStreamPublisher;
  readonly redactor: Redactor;
}

/**
 * Dead letters and history on the adapter's stream. A dead-letter topic is a topic of the stream
 * like any other (`<prefix>.<dead-letter topic>.<partition>`); a dead letter's id is its stream
 * sequence, which orders the store. A redrive publishes the original to the topic's partition
 * subject its key picks, addressed to the failed group by a header; a replay recreates the group's
 * durable consumers at a start time or sequence.
 */
export class JetStreamOperations {
  constructor(private readonly ctx: OperationsContext) {}

  async read(at: DeadLetterLocation, cursor: string | undefined, limit: number): Promise<DeadLetterPage> {
    const filter = topicFilter(this.ctx.prefix, at.deadLetterTopic);
    let after = cursor === undefined ? 0 : sequenceOf(cursor, 'cursor');
    const letters: StoredDeadLetter[] = [];
    // One look past the page: whether a letter follows decides its cursor.
    while (letters.length <= limit) {
      const stored = await this.next(filter, after + 1);
      if (stored === undefined) return { letters, cursor: undefined };
      if (letters.length === limit) break;
      letters.push(letterOf(stored));
      after = stored.seq;
    }
    return { letters, cursor: letters.at(-1)?.id };
  }

  async redrive(at: DeadLetterLocation, ids: readonly string[]): Promise<RedriveOutcome[]> {
    // Every other group skips a redriven record: without a consumer of the failed group on the
    // topic, nobody would handle it, and its dead letter would be gone.
    if ((await this.consumersOf(at.topic, at.group)).length === 0) {
      const reason = `consumer group "${at.group}" does not consume topic "${at.topic}" on stream "${this.ctx.stream}"`;
      return ids.map((id) => ({ id, status: 'refused', reason }));
    }
    const filter = topicFilter(this.ctx.prefix, at.deadLetterTopic);
    const found = await Promise.all(
      ids.map(async (id) => {
        const seq = trySequence(id);
        return seq === undefined ? undefined : this.get(seq, filter);
      }),
    );
    const letters = found.flatMap((stored, i) => (stored === undefined ? [] : [{ id: ids[i]!, stored }]));
    // In store order, on one connection: the stream stores the redriven records of a key in the
    // order their dead letters were stored, which is what an ordered group then sees.
    const failures = await this.ctx.publisher.publishEach(
      letters.map(({ stored }) => {
        const { headers, key } = decodeStored(stored);
        return {
          record: {
            topic: at.topic,
            key,
            headers: addressTo(headers, at.group),
            body: stored.data,
          },
          // The letter's own: a redrive run again after a crash between this publish and the
          // delete below is dropped by the duplicate window rather than delivered twice.
          msgId: `redrive ${this.ctx.stream} ${stored.seq}`,
        };
      }),
    );
    const outcomes = new Map<string, RedriveOutcome>();
    await Promise.all(
      letters.map(async ({ id, stored }, i) => {
        const failure = failures[i];
        if (failure !== undefined) {
          // The broker could not be asked: the caller hears it; a refusal of this record stays here.
          if (failure instanceof ConnectionError || failure instanceof ClosedError) throw failure;
          outcomes.set(id, { id, status: 'refused', reason: this.ctx.redactor.text(failure.message) });
          return;
        }
        // Removed only now that the stream confirmed the redelivery. Gone meanwhile (another
        // operator purged it) changes nothing: the record was delivered again.
        await this.remove(stored.seq);
        outcomes.set(id, { id, status: 'redriven' });
      }),
    );
    return ids.map((id) => outcomes.get(id) ?? { id, status: 'missing' });
  }

  async delete(at: DeadLetterLocation, ids: readonly string[]): Promise<number> {
    const filter = topicFilter(this.ctx.prefix, at.deadLetterTopic);
    const removed = await Promise.all(
      ids.map(async (id) => {
        const seq = trySequence(id);
        // Only a letter of this dead-letter topic: an id is a sequence of the whole stream.
        if (seq === undefined || (await this.get(seq, filter)) === undefined) return false;
        return this.remove(seq);
      }),
    );
    return removed.filter(Boolean).length;
  }

  /**
   * Recreates each durable consumer of `group` on `topic` (one, or one per partition when the
   * group is ordered) with its settings and a start at `from`: JetStream cannot move an existing
   * consumer's position. The group's pullers see "consumer deleted" and pull again from the new
   * consumer, which has the same name.
   */
  async replay(topic: string, group: string, from: ReplayFrom): Promise<void> {
    const start = startOf(topic, from);
    const { config } = await this.call('cannot replay: read the stream', () =>
      this.ctx.jsm.streams.info(this.ctx.stream),
    );
    if (config.retention !== RetentionPolicy.Limits) {
      // Deleting the consumer would let the stream drop what only this group still owed.
      throw new ConfigError('stream.retention', INTEREST_REPLAY);
    }
    const infos = await this.consumersOf(topic, group);
    if (infos.length === 0) {
      throw new ConfigError(
        'group',
        `consumer group "${group}" does not consume topic "${topic}" on stream "${this.ctx.stream}"`,
      );
    }
    for (const info of infos) {
      const {
        deliver_policy: _policy,
        opt_start_seq: _seq,
        opt_start_time: _time,
        ...kept
      } = info.config as ConsumerConfig & { opt_start_time?: string };
      const config: Partial<ConsumerConfig> = { ...kept, ...start };
      await this.call(`cannot replay: delete consumer "${info.name}"`, async () => {
        await this.ctx.jsm.consumers.delete(this.ctx.stream, info.name).catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
      });
      await this.call(`cannot replay: create consumer "${info.name}" again`, () =>
        this.ctx.jsm.consumers.add(this.ctx.stream, config),
      );
    }
  }

  /** The durable consumers of `group` on `topic` that exist: the unordered one, or the partitions'. */
  async consumersOf(topic: string, group: string): Promise<ConsumerInfo[]> {
    const names = [consumerName(group, topic)];
    for (let p = 0; p < this.ctx.partitions; p++) names.push(consumerName(group, topic, p));
    const infos = await Promise.all(
      names.map((name) =>
        this.call(`cannot read consumer "${name}"`, () =>
          this.ctx.jsm.consumers.info(this.ctx.stream, name).catch((error: unknown) => {
            if (isNotFound(error)) return undefined;
            throw error;
          }),
        ),
      ),
    );
    return infos.filter((info): info is ConsumerInfo => info !== undefined);
  }

  /** The first message at or after `seq` on `filter`, or undefined when there is none. */
  private async next(filter: string, seq: number): Promise<StoredMsg | undefined> {
    // `next_by_subj` is the server's (2.9 and later); nats.js types it for direct gets only.
    const query = { seq, next_by_subj: filter } as unknown as { seq: number };
    return this.call('cannot read the dead letters', () =>
      this.ctx.jsm.streams.getMessage(this.ctx.stream, query).catch((error: unknown) => {
        if (apiErrorCode(error) === JS_ERR.noMessageFound) return undefined;
        throw error;
      }),
    );
  }

  /** The message at `seq` if it is stored and on `filter`'s subjects. */
  private async get(seq: number, filter: string): Promise<StoredMsg | undefined> {
    const stored = await this.next(filter, seq);
    return stored?.seq === seq ? stored : undefined;
  }

  /** Deletes the message at `seq`; false when it was not stored. */
  private remove(seq: number): Promise<boolean> {
    return this.call(`cannot delete message ${seq}`, () =>
      // No erase: overwriting the bytes on disk is slower, and a dead letter is no secret the
      // stream did not hold before.
      this.ctx.jsm.streams.deleteMessage(this.ctx.stream, seq, false).catch((error: unknown) => {
        const code = apiErrorCode(error);
        if (code === JS_ERR.sequenceNotFound || code === JS_ERR.noMessageFound) return false;
        throw error;
      }),
    );
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      // The server understood and said no (a stream that is gone, a consumer setting it refuses):
      // asking again will not help. Anything else is the connection's.
      const api = error instanceof NatsError ? error.api_error : undefined;
      if (api !== undefined && (api.code === 400 || isNotFound(error))) {
        throw new ConfigError('stream', `${what} on stream "${this.ctx.stream}": ${api.description}`, {
          cause: this.ctx.redactor.error(error),
        });
      }
      throw connectionFailure(error, `${what} on stream "${this.ctx.stream}"`, this.ctx.redactor);
    }
  }
}

/** A stored message's headers and key (nats.js parses its headers when asked, and may throw). */
function decodeStored(stored: StoredMsg): ReturnType<typeof fromNatsHeaders> {
  const source = {
    get headers(): MsgHdrs {
      return stored.header;
    },
  };
  return fromNatsHeaders(source, () => storedHeaderBlock(stored));
}

function letterOf(stored: StoredMsg): StoredDeadLetter {
  const { headers, key } = decodeStored(stored);
  return { id: String(stored.seq), key, headers: headers as RecordHeaders, body: stored.data };
}

/** A dead letter id (a stream sequence), or undefined for anything else. */
function trySequence(id: string): number | undefined {
  if (!/^[1-9]\d{0,15}$/.test(id)) return undefined;
  const seq = Number(id);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

function sequenceOf(id: string, field: string): number {
  const seq = trySequence(id);
  if (seq === undefined) throw new ConfigError(field, `"${id}" is not a dead letter id (a stream sequence)`);
  return seq;
}

/** The consumer settings that start a replay at `from`. */
function startOf(topic: string, from: ReplayFrom): Partial<ConsumerConfig> {
  if ('time' in from) {
    const time = from.time instanceof Date ? from.time.getTime() : Number.NaN;
    if (Number.isNaN(time)) throw new ConfigError('from.time', 'is not a valid date');
    return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(time).toISOString() };
  }
  // `IncomingRecord.position`: `<topic>/<partition>@<stream sequence>`.
  const match = /^(.*)\/(\d+)@(\d+)$/.exec(from.position);
  const seq = match === null ? undefined : trySequence(match[3]!);
  if (match === null || seq === undefined || match[1] !== topic) {
    throw new ConfigError(
      'from.position',
      `"${from.position}" is not a position of topic "${topic}" (<topic>/<partition>@<stream sequence>)`,
    );
  }
  return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq };
}
