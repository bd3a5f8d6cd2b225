import {
  type AdapterCapabilities,
  checkOutgoing,
  type OutgoingRecord,
  PublishError,
  TidingsError,
} from '@tidings/core/adapter';
import type { Redis } from 'ioredis';
import { encodeFields } from './codec';
import { publishFailure } from './connection';
import type { ResolvedOptions } from './options';
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
 * topic's stream, or the shard of its key. Resolves with the streams written to; rejects with a
 * `PublishError` for a refusal, a `ConnectionError` for a failed connection, both redacted.
 */
export async function sendRecords(
  command: Redis,
  records: readonly OutgoingRecord[],
  shards: Shards,
  options: ResolvedOptions,
): Promise<ReadonlySet<string>> {
  for (const topic of new Set(records.map((record) => record.topic))) {
    await shards.check(command, topic, options.redact);
  }
  const streams = records.map((record) => shards.streamFor(record.topic, record.key));
  try {
    if (records.length === 1) {
      await command.callBuffer('xadd', streams[0]!, '*', ...encodeFields(records[0]!));
    } else {
      const transaction = command.multi();
      for (const [i, record] of records.entries()) {
        transaction.callBuffer('xadd', streams[i]!, '*', ...encodeFields(record));
      }
      const results = await transaction.exec();
      if (results === null) throw new PublishError('the publish transaction was discarded');
      results.forEach(([error], i) => {
        if (error) throw publishFailure(error, records[i]!.topic, options.redact);
      });
    }
    const wait = options.waitForReplicas;
    if (wait !== undefined) {
      const acknowledged = Number(await command.call('wait', wait.replicas, wait.timeoutMs));
      if (acknowledged < wait.replicas) {
        throw new PublishError(
          `only ${acknowledged} of ${wait.replicas} replicas confirmed the records within ${wait.timeoutMs} ms; the primary has them`,
        );
      }
    }
  } catch (error) {
    if (error instanceof TidingsError) throw error;
    throw publishFailure(error, records[0]!.topic, options.redact);
  }
  return new Set(streams);
}
