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
  it('keeps a header named __proto__ as a header, and every value of a repeated name', () => {
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
    expect(Object.getOwnPropertyDescriptor(first.headers, '__proto__')?.value?.toString()).toBe('p');
    expect(Object.getPrototypeOf(first.headers)).toBe(Object.prototype);
    expect((second.headers.h as Buffer[]).map(String)).toEqual(['one', 'two']);
    expect(first).toMatchObject({ offset: 0, control: false, aborted: false });
  });
});
