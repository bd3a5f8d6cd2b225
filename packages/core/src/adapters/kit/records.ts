import { MessageTooLargeError, PublishError } from '../../errors';
import type { AdapterCapabilities, OutgoingRecord } from '../contract';
import { HandedOverRecord } from '../handed-over';
import { topicProblem } from './topic-rule';

/**
 * Checks records before anything is sent, the same way for every adapter: each topic by the
 * adapter's rule and each key and header value a string (a `PublishError`), each body within
 * `maxMessageBytes` (a `MessageTooLargeError`). The bus checks all this before an adapter sees a
 * record (the records it hands over straight from its encoder are not checked again); adapters
 * call it because they are also used directly, and a client must never be handed what makes it
 * throw an untyped error (a number where a header value goes).
 *
 * @example
 * ```ts
 * publish(records: readonly OutgoingRecord[]): Promise<void> {
 *   try {
 *     checkOutgoing(records, this.capabilities);
 *   } catch (error) {
 *     return Promise.reject(error);
 *   }
 *   // ...send
 * }
 * ```
 */
export function checkOutgoing(records: readonly OutgoingRecord[], capabilities: AdapterCapabilities): void {
  if (!Array.isArray(records)) throw new PublishError(`records must be an array, got ${describe(records)}`);
  const limit = capabilities.maxMessageBytes;
  for (const record of records as readonly unknown[]) {
    if (record === null || typeof record !== 'object') {
      throw new PublishError(`a record must be an object, got ${describe(record)}`);
    }
    checkRecord(record as OutgoingRecord, capabilities, limit);
  }
}

function checkRecord(record: OutgoingRecord, capabilities: AdapterCapabilities, limit: number): void {
  // Made by the bus's encoder from a checked event, and seen by nobody since: nothing to check.
  if (record instanceof HandedOverRecord) return;
  const problem = topicProblem(capabilities.topicRule, record.topic);
  if (problem !== undefined) throw new PublishError(problem, { topic: String(record.topic) });
  if (record.key !== undefined && typeof record.key !== 'string') {
    throw new PublishError(`a record key must be a string, got ${typeof record.key}`, {
      topic: record.topic,
    });
  }
  if (record.headers === null || typeof record.headers !== 'object' || Array.isArray(record.headers)) {
    throw new PublishError(`record headers must be an object, got ${describe(record.headers)}`, {
      topic: record.topic,
    });
  }
  for (const name of Object.keys(record.headers)) {
    const value: unknown = record.headers[name];
    if (typeof value !== 'string') {
      throw new PublishError(`header "${name.slice(0, 60)}" must be a string, got ${typeof value}`, {
        topic: record.topic,
      });
    }
  }
  if (!(record.body instanceof Uint8Array)) {
    throw new PublishError(`a record body must be a Uint8Array, got ${typeof record.body}`, {
      topic: record.topic,
    });
  }
  if (record.body.byteLength > limit) throw new MessageTooLargeError(record.body.byteLength, limit);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
