import type { IncomingRecord, RecordHandler, RecordHeaders, Settlement } from '../contract';

/**
 * The settlement an adapter applies when the core's handler broke its promise and rejected (or
 * resolved with something that is no settlement): deliver the record again, at once, as the
 * contract says. Frozen, so that adapters can share it.
 */
export const RETRY_NOW: Settlement = Object.freeze({ type: 'retry', delayMs: 0, headers: Object.freeze({}) });

/** Whether `value` is a settlement the contract knows; anything else is applied as {@link RETRY_NOW}. */
export function isSettlement(value: unknown): value is Settlement {
  const type = (value as { type?: unknown } | null | undefined)?.type;
  return type === 'ack' || type === 'retry' || type === 'deadLetter';
}

/**
 * The headers of a record re-published for a settlement (a retry copy, a dead letter): the
 * record's own, with the settlement's written over them. The result has no prototype, so a header
 * named `__proto__` or `constructor` is a header like any other.
 *
 * @example
 * ```ts
 * const headers = settlementHeaders(record.headers, settlement.headers);
 * ```
 */
export function settlementHeaders(recordHeaders: RecordHeaders, over: RecordHeaders): Record<string, string> {
  const headers = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(recordHeaders)) headers[name] = recordHeaders[name]!;
  for (const name of Object.keys(over)) headers[name] = over[name]!;
  return headers;
}

/**
 * Calls the core's record handler for one record and resolves with the settlement to apply: the
 * handler's own, or {@link RETRY_NOW} when it broke its promise (rejected, or resolved with
 * something that is no settlement). Never rejects.
 *
 * @example
 * ```ts
 * const settlement = await settlementOf(handler, record);
 * ```
 */
export async function settlementOf(handler: RecordHandler, record: IncomingRecord): Promise<Settlement> {
  try {
    const settlement: unknown = await handler(record);
    return isSettlement(settlement) ? settlement : RETRY_NOW;
  } catch {
    return RETRY_NOW;
  }
}
