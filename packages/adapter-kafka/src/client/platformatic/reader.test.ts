import type { fetchV17 } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { fetchedRecords } from './reader';

/** One partition of a Fetch response with a single plain batch of records with these headers. */
function partitionWith(headers: [string, string][][]): fetchV17.FetchResponsePartition {
  return {
    partitionIndex: 0,
    errorCode: 0,
    highWatermark: BigInt(headers.length),
    lastStableOffset: BigInt(headers.length),
    logStartOffset: 0n,
    abortedTransactions: [],
    preferredReadReplica: -1,
    records: [
      {
        firstOffset: 0n,
        length: 0,
        partitionLeaderEpoch: 0,
        magic: 2,
        crc: 0,
        attributes: 0,
        lastOffsetDelta: headers.length - 1,
        firstTimestamp: 0n,
        maxTimestamp: 0n,
        producerId: -1n,
        producerEpoch: -1,
        firstSequence: -1,
        records: headers.map((pairs, offsetDelta) => ({
          attributes: 0,
          timestampDelta: 0n,
          offsetDelta,
          key: Buffer.from(`k${offsetDelta}`),
          value: Buffer.from(`v${offsetDelta}`),
          headers: pairs.map(([name, value]) => [Buffer.from(name), Buffer.from(value)] as [Buffer, Buffer]),
        })),
      },
    ],
  } as unknown as fetchV17.FetchResponsePartition;
}

describe('fetchedRecords on platformatic', () => {
  it('keeps a header named __proto__ as a header, and the last value of a repeated name', () => {
    const records = fetchedRecords([
      partitionWith([
        [['__proto__', 'p']],
        [
          ['h', 'one'],
          ['h', 'two'],
        ],
      ]),
    ]);
    const [first, second] = [records[0]!, records[1]!];
    expect(Object.getOwnPropertyDescriptor(first.headers, '__proto__')?.value).toBe('p');
    expect(Object.getPrototypeOf(first.headers)).toBeNull();
    expect(second.headers).toEqual({ h: 'two' });
    expect(first).toMatchObject({ offset: 0, control: false, aborted: false });
  });

  it("marks an aborted transaction's records, and with visibleFrom hands over only what a consumer sees", () => {
    const aborted = transactional(9n, 10, [{ producerId: 9n, firstOffset: 10n }]);
    expect(fetchedRecords([aborted]).map((r) => [r.offset, r.aborted, r.control])).toEqual([
      [10, true, false],
      [11, true, false],
      [12, false, true],
      [13, false, false],
    ]);
    // Records of the aborted transaction, the marker and what lies below the offset are left out.
    expect(fetchedRecords([aborted], 13).map((r) => r.offset)).toEqual([13]);
    expect(fetchedRecords([aborted], 0).map((r) => r.offset)).toEqual([13]);
    // The same records, committed (no aborted transaction listed): all but the marker are seen.
    expect(fetchedRecords([transactional(9n, 10, [])], 11).map((r) => r.offset)).toEqual([11, 13]);
  });
});

/**
 * Producer `producerId`'s transaction of two records from `first`, its abort marker, then a record
 * of a later transaction of the same producer, with the aborted transactions the broker listed.
 */
function transactional(
  producerId: bigint,
  first: number,
  abortedTransactions: { producerId: bigint; firstOffset: bigint }[],
): fetchV17.FetchResponsePartition {
  const batch = (firstOffset: number, attributes: number, keys: (Buffer | null)[]) => ({
    firstOffset: BigInt(firstOffset),
    attributes,
    lastOffsetDelta: keys.length - 1,
    producerId,
    records: keys.map((key, offsetDelta) => ({
      attributes: 0,
      timestampDelta: 0n,
      offsetDelta,
      key,
      value: key === null ? Buffer.from('v') : null,
      headers: [],
    })),
  });
  const TRANSACTIONAL = 0x10;
  const CONTROL = 0x20;
  // A control record's key: version 0, type 0 (ABORT).
  const abortKey = Buffer.from([0, 0, 0, 0]);
  return {
    partitionIndex: 0,
    errorCode: 0,
    abortedTransactions,
    records: [
      batch(first, TRANSACTIONAL, [null, null]),
      batch(first + 2, TRANSACTIONAL | CONTROL, [abortKey]),
      batch(first + 3, TRANSACTIONAL, [null]),
    ],
  } as unknown as fetchV17.FetchResponsePartition;
}
