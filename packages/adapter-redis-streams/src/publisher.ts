import {
  type AdapterCapabilities,
  ConnectionError,
  checkOutgoing,
  type OutgoingRecord,
  PublishError,
  TidingsError,
} from '@tidings/core/adapter';
import { Cluster } from 'ioredis';
import { encodeFields } from './codec';
import type { RedisClient } from './connection';
import { publishFailure, writeTogether } from './connection';
import { tagOf } from './keys';
import type { RedisReplicaWait, ResolvedOptions } from './options';
import type { Shards } from './shards';

/**
 * Checks records before anything is sent: an array of objects with objects of headers (what the
 * kit's `checkOutgoing` takes for granted), then the kit's checks (topic rule, string keys and
 * header values, body bytes within `maxMessageBytes`). Throws a `PublishError` (or a
 * `MessageTooLargeError`), so that a caller's mistake never reaches ioredis as a `TypeError`.
 */
export function checkRecords(records: readonly OutgoingRecord[], capabilities: AdapterCapabilities): void {
  if (!Array.isArray(records)) throw new PublishError('publish takes an array of records');
  for (const record of records as readonly unknown[]) {
    if (typeof record !== 'object' || record === null) {
      throw new PublishError(`a record must be an object, got ${record === null ? 'null' : typeof record}`);
    }
    const { headers, topic } = record as { headers?: unknown; topic?: unknown };
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
      const what = headers === null ? 'null' : Array.isArray(headers) ? 'an array' : typeof headers;
      throw new PublishError(
        `the headers of a record must be an object, got ${what}`,
        typeof topic === 'string' ? { topic } : {},
      );
    }
  }
  checkOutgoing(records, capabilities);
}

/**
 * Writes checked records as stream entries: one `XADD` for one record, a batch as one `MULTI`
 * (a connection lost before `EXEC` stores none of it; a record Redis refuses inside it does not
 * undo the others), then `WAIT` for the replicas the options ask for. Each record goes to its
 * topic's stream, or the shard of its key. On a cluster, a batch is one `MULTI` per slot its
 * streams lie in (a failure may leave some slots written: the publish rejects, and trying it
 * again may duplicate those records), and the `WAIT` goes to each primary written to, behind the
 * writes on the same connection. Resolves with the streams written to; rejects with a
 * `PublishError` for a refusal, a `ConnectionError` for a failed connection, both redacted.
 */
export async function sendRecords(
  command: RedisClient,
  records: readonly OutgoingRecord[],
  shards: Shards,
  options: ResolvedOptions,
): Promise<ReadonlySet<string>> {
  for (const topic of new Set(records.map((record) => record.topic))) {
    await shards.check(command, topic, options.redact);
  }
  const streams = records.map((record) => shards.streamFor(record.topic, record.key));
  try {
    if (shards.clustered) {
      await Promise.all(
        [...bySlot(streams)].map((indexes) => writeInSlot(command, records, streams, indexes, options)),
      );
    } else if (records.length === 1) {
      // Concurrent publishes share the socket writes of their tick (a single XADD stays atomic).
      writeTogether(command);
      await command.callBuffer('xadd', streams[0]!, '*', ...encodeFields(records[0]!));
    } else {
      await transaction(command, records, streams, [...records.keys()], options);
    }
    const wait = options.waitForReplicas;
    if (wait !== undefined && !shards.clustered) {
      checkReplicas(Number(await command.call('wait', wait.replicas, wait.timeoutMs)), wait);
    }
  } catch (error) {
    if (error instanceof TidingsError) throw error;
    throw publishFailure(error, records[0]!.topic, options.redact);
  }
  return new Set(streams);
}

/** The `XADD`s of the records at `indexes`, in one `MULTI`; rejects when Redis refused any. */
async function transaction(
  command: RedisClient,
  records: readonly OutgoingRecord[],
  streams: readonly string[],
  indexes: readonly number[],
  options: ResolvedOptions,
): Promise<void> {
  const multi = command.multi();
  for (const i of indexes) multi.callBuffer('xadd', streams[i]!, '*', ...encodeFields(records[i]!));
  const results = await multi.exec();
  if (results === null) throw new PublishError('the publish transaction was discarded');
  results.forEach(([error], n) => {
    if (error) throw publishFailure(error, records[indexes[n]!]!.topic, options.redact);
  });
}

/**
 * Cluster: writes the records at `indexes` (streams of one slot), then waits for replicas on the
 * same node. The write is an ordinary command, which ioredis sends on to the slot's new owner
 * after a failover (`MOVED`). `WAIT` counts the replicas that have everything the connection
 * wrote, so it must travel on that connection: a pipeline with a key of the slot takes it there.
 * If the slot moved in between, the pipeline's key is refused (`MOVED`), the `WAIT` went elsewhere
 * and proves nothing: the publish rejects, and ioredis is told to reload the slots.
 */
async function writeInSlot(
  command: RedisClient,
  records: readonly OutgoingRecord[],
  streams: readonly string[],
  indexes: readonly number[],
  options: ResolvedOptions,
): Promise<void> {
  const first = indexes[0]!;
  if (indexes.length > 1) await transaction(command, records, streams, indexes, options);
  else await command.callBuffer('xadd', streams[first]!, '*', ...encodeFields(records[first]!));
  const wait = options.waitForReplicas;
  if (wait === undefined) return;
  const results =
    (await command.pipeline().exists(streams[first]!).call('wait', wait.replicas, wait.timeoutMs).exec()) ??
    [];
  const moved = results.find(([error]) => error !== null)?.[0];
  if (moved) {
    if (command instanceof Cluster) command.refreshSlotsCache();
    throw new ConnectionError(
      options.redact.text(
        `the slot of "${streams[first]}" moved before its replicas were counted: ${moved.message}`,
      ),
      { cause: options.redact.error(moved) },
    );
  }
  checkReplicas(Number(results[1]?.[1]), wait);
}

function checkReplicas(acknowledged: number, wait: RedisReplicaWait): void {
  if (acknowledged < wait.replicas) {
    throw new PublishError(
      `only ${acknowledged} of ${wait.replicas} replicas confirmed the records within ${wait.timeoutMs} ms; the primary has them`,
    );
  }
}

/** Record indexes by the hash tag of their stream (one slot each). */
function bySlot(streams: readonly string[]): Iterable<number[]> {
  const groups = new Map<string, number[]>();
  for (const [i, stream] of streams.entries()) {
    const tag = tagOf(stream);
    const group = groups.get(tag) ?? [];
    group.push(i);
    groups.set(tag, group);
  }
  return groups.values();
}
