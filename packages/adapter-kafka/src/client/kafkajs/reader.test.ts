import { describe, expect, it } from 'vitest';
import { committedOnly, type FetchedMessage } from './reader';

const message = (offset: number, producerId: string, inTransaction: boolean, control?: 'abort' | 'commit') =>
  ({
    offset: String(offset),
    key:
      control === undefined ? Buffer.from(`k${offset}`) : Buffer.from([0, 0, 0, control === 'abort' ? 0 : 1]),
    value: Buffer.from(`v${offset}`),
    timestamp: '0',
    attributes: 0,
    headers: {},
    isControlRecord: control !== undefined,
    batchContext: { producerId, inTransaction },
  }) as unknown as FetchedMessage;

describe('committedOnly', () => {
  it("marks an aborted transaction's records from its first offset to its abort marker, and nothing else", () => {
    const out = committedOnly([
      {
        partition: 0,
        messages: [
          message(0, '7', false),
          message(1, '9', true),
          message(2, '7', true),
          message(3, '9', true, 'abort'),
          message(4, '9', true),
          message(5, '7', true, 'commit'),
        ],
        abortedTransactions: [{ producerId: '9', firstOffset: '1' }],
      },
    ]);
    expect(out.map((m) => [Number(m.offset), m.aborted])).toEqual([
      [0, false],
      [1, true],
      [2, false],
      [3, false],
      // After its abort marker, producer 9's next transaction is not aborted (unless listed).
      [4, false],
      [5, false],
    ]);
  });

  it('marks nothing without aborted transactions', () => {
    const out = committedOnly([{ partition: 0, messages: [message(0, '1', true), message(1, '1', true)] }]);
    expect(out.every((m) => !m.aborted)).toBe(true);
  });
});
