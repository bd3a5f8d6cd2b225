import {
  ConfigError,
  type DeadLetterLocation,
  type DeadLetterPage,
  type Redactor,
  type RedriveOutcome,
  type ReplayFrom,
  type StoredDeadLetter,
} from '@tidings/core/adapter';
import { decodeFields } from './codec';
import type { RedisClient } from './connection';
import { connectionFailure, isNoGroup, isReplyError, isWrongType } from './connection';
import { asArray, asText } from './replies';
import { redrive, redriveOriginal } from './scripts';
import type { Shards } from './shards';

/** The consumer a redriven entry is pending for until a member of its group claims it. */
export const REDRIVE_CONSUMER = 'tidings:redrive';

const MAX_SEQUENCE = 18446744073709551615n;

/**
 * Dead letters and history of the Redis Streams adapter. A dead-letter topic is an ordinary
 * stream (or its shards); a dead letter's id is its entry id, prefixed with `<shard>:` when the
 * topic is sharded (the store is then listed shard after shard).
 */
export class StreamOperations {
  constructor(
    private readonly redis: RedisClient,
    private readonly shards: Shards,
    private readonly idHeader: string,
    private readonly redact: Redactor,
  ) {}

  async read(at: DeadLetterLocation, cursor: string | undefined, limit: number): Promise<DeadLetterPage> {
    const streams = this.shards.streams(at.deadLetterTopic);
    let { shard, id } = this.parse(cursor, streams.length);
    const letters: StoredDeadLetter[] = [];
    while (shard < streams.length && letters.length < limit) {
      const stream = streams[shard]!;
      const want = limit - letters.length;
      const entries = await this.call(`cannot read the dead letters of "${stream}"`, () =>
        this.redis.xrangeBuffer(stream, id === undefined ? '-' : `(${id}`, '+', 'COUNT', want),
      );
      for (const [entryId, fields] of entries) {
        const content = decodeFields(fields);
        letters.push({ id: this.idOf(shard, entryId.toString(), streams.length), ...content });
      }
      if (entries.length < want) {
        shard++;
        id = undefined;
      } else {
        id = entries.at(-1)![0].toString();
      }
    }
    const more = letters.length === limit && (await this.anyAfter(streams, letters.at(-1)!.id));
    return { letters, cursor: more ? letters.at(-1)!.id : undefined };
  }

  redrive(at: DeadLetterLocation, ids: readonly string[]): Promise<RedriveOutcome[]> {
    const dlqStreams = this.shards.streams(at.deadLetterTopic);
    const sources = this.shards.streams(at.topic);
    // One script per dead letter, all sent at once (ioredis pipelines them on the connection):
    // each is atomic on its own, and their order does not matter.
    return Promise.all(
      ids.map(async (id): Promise<RedriveOutcome> => {
        const parsed = this.tryParse(id, dlqStreams.length);
        if (parsed === undefined) return { id, status: 'missing' };
        const { keys } = this.shards;
        if (this.shards.clustered)
          return this.redriveInSteps(id, dlqStreams[parsed.shard]!, parsed.id, sources, at.group);
        // The original's stream: every shard of the topic is a candidate (an unkeyed record went
        // round them); the script takes the one holding an entry of that id with the same event id.
        const keyList = [dlqStreams[parsed.shard]!];
        for (const source of sources) {
          keyList.push(source, keys.due(source, at.group), keys.retryHeaders(source, at.group));
        }
        const reply = asArray(
          await this.call(`cannot redrive dead letter "${id}"`, () =>
            redrive.run(this.redis, keyList, [at.group, REDRIVE_CONSUMER, parsed.id, this.idHeader]),
          ),
          'redrive reply',
        );
        const status = asText(reply[0], 'redrive status');
        if (status === 'redriven' || status === 'missing') return { id, status };
        return { id, status: 'refused', reason: this.redact.text(asText(reply[1], 'redrive reason')) };
      }),
    );
  }

  /**
   * Cluster: the redrive of one dead letter in steps, since it and its original lie in different
   * slots: reads where the original is, makes it pending for the group again (`redriveOriginal`),
   * then deletes the dead letter.
   */
  private async redriveInSteps(
    id: string,
    dlq: string,
    letterId: string,
    sources: readonly string[],
    group: string,
  ): Promise<RedriveOutcome> {
    const what = `cannot redrive dead letter "${id}"`;
    const found = await this.call(what, () => this.redis.xrangeBuffer(dlq, letterId, letterId));
    const letter = found[0];
    if (letter === undefined) return { id, status: 'missing' };
    let position: string | undefined;
    let eventId = '';
    const fields = letter[1];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!.toString();
      if (name === 'tidings-dlq-original-position') position = fields[i + 1]!.toString();
      else if (name === this.idHeader) eventId = fields[i + 1]!.toString();
    }
    if (position === undefined) {
      return { id, status: 'refused', reason: 'the dead letter does not say where its original is' };
    }
    const { keys } = this.shards;
    for (const source of sources) {
      const reply = asArray(
        await this.call(what, () =>
          redriveOriginal.run(
            this.redis,
            [source, keys.due(source, group), keys.retryHeaders(source, group)],
            [group, REDRIVE_CONSUMER, position, this.idHeader, eventId],
          ),
        ),
        'redrive reply',
      );
      const status = asText(reply[0], 'redrive status');
      if (status === 'absent') continue;
      if (status === 'redriven') {
        await this.call(what, () => this.redis.xdel(dlq, letterId));
        return { id, status: 'redriven' };
      }
      return { id, status: 'refused', reason: this.redact.text(asText(reply[1], 'redrive reason')) };
    }
    return {
      id,
      status: 'refused',
      reason: `the original entry ${position} is no longer in its stream (trimmed), so it cannot be given to the group alone`,
    };
  }

  async delete(at: DeadLetterLocation, ids: readonly string[]): Promise<number> {
    const streams = this.shards.streams(at.deadLetterTopic);
    const byShard = new Map<number, string[]>();
    for (const id of ids) {
      const parsed = this.tryParse(id, streams.length);
      if (parsed === undefined) continue;
      const list = byShard.get(parsed.shard) ?? [];
      list.push(parsed.id);
      byShard.set(parsed.shard, list);
    }
    let deleted = 0;
    for (const [shard, list] of byShard) {
      const stream = streams[shard]!;
      deleted += await this.call(`cannot delete dead letters of "${stream}"`, () =>
        this.redis.xdel(stream, ...list),
      );
    }
    return deleted;
  }

  async replay(topic: string, group: string, from: ReplayFrom): Promise<void> {
    const lastDelivered = 'time' in from ? beforeTime(from.time) : beforePosition(from.position);
    for (const stream of this.shards.streams(topic)) {
      try {
        await this.redis.xgroup('SETID', stream, group, lastDelivered);
      } catch (error) {
        if (
          isNoGroup(error) ||
          (isReplyError(error) && /requires the key to exist/i.test((error as Error).message))
        ) {
          throw new ConfigError('group', `consumer group "${group}" does not read stream "${stream}"`, {
            cause: this.redact.error(error),
          });
        }
        throw this.failure(`cannot move group "${group}" on "${stream}"`, error);
      }
    }
  }

  private async anyAfter(streams: readonly string[], lastId: string): Promise<boolean> {
    const { shard, id } = this.parse(lastId, streams.length);
    for (let s = shard; s < streams.length; s++) {
      const start = s === shard && id !== undefined ? `(${id}` : '-';
      const next = await this.call('cannot read the dead letters', () =>
        this.redis.xrange(streams[s]!, start, '+', 'COUNT', 1),
      );
      if (next.length > 0) return true;
    }
    return false;
  }

  private idOf(shard: number, entryId: string, shardCount: number): string {
    return shardCount === 1 ? entryId : `${shard}:${entryId}`;
  }

  private tryParse(id: string, shardCount: number): { shard: number; id: string } | undefined {
    const match = (shardCount === 1 ? /^()(\d+-\d+)$/ : /^(\d+):(\d+-\d+)$/).exec(id);
    if (match === null) return undefined;
    const shard = shardCount === 1 ? 0 : Number(match[1]);
    return shard < shardCount ? { shard, id: match[2]! } : undefined;
  }

  private parse(cursor: string | undefined, shardCount: number): { shard: number; id: string | undefined } {
    if (cursor === undefined) return { shard: 0, id: undefined };
    const parsed = this.tryParse(cursor, shardCount);
    if (parsed === undefined)
      throw new ConfigError('cursor', `"${cursor}" is not a dead letter id of this adapter`);
    return parsed;
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.failure(what, error);
    }
  }

  private failure(what: string, error: unknown): Error {
    if (isWrongType(error)) {
      return new ConfigError('topic', `${what}: the key holds something else than a stream`, {
        cause: this.redact.error(error),
      });
    }
    return connectionFailure(what, error, this.redact);
  }
}

/** The last-delivered id that makes a group read every entry added at or after `time`. */
function beforeTime(time: Date): string {
  const ms = BigInt(Math.floor(time.getTime()));
  return ms <= 0n ? '0-0' : `${ms - 1n}-${MAX_SEQUENCE}`;
}

/** The last-delivered id that makes a group read `position` (an entry id) and what follows. */
function beforePosition(position: string): string {
  const match = /^(\d+)-(\d+)$/.exec(position);
  if (match === null)
    throw new ConfigError('from.position', `"${position}" is not a stream entry id (<ms>-<seq>)`);
  const ms = BigInt(match[1]!);
  const seq = BigInt(match[2]!);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  return ms === 0n ? '0-0' : `${ms - 1n}-${MAX_SEQUENCE}`;
}
