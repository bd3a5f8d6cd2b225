import { describe, expect, it } from 'vitest';
import {
  decodeCommitMetadata,
  encodeCommitMetadata,
  MAX_METADATA_LENGTH,
  type RetryMark,
} from './commit-metadata';

const mark = (attempt: number): RetryMark => ({ attempt, firstFailureAt: '2024-05-01T10:00:00.000Z' });

describe('offset commit metadata', () => {
  it('round-trips retry marks at or above the position, and the drain marker', () => {
    const retries = new Map([
      [4, mark(2)],
      [9, mark(3)],
      [12, mark(2)],
    ]);
    const text = encodeCommitMetadata(retries, 9, { owner: 'member-a', drainMs: 15_000 });
    const decoded = decodeCommitMetadata(text);
    expect([...decoded.retries]).toEqual([
      [9, mark(3)],
      [12, mark(2)],
    ]);
    expect(decoded.drain).toEqual({ owner: 'member-a', drainMs: 15_000 });
  });

  it('writes nothing when there is nothing to keep', () => {
    expect(encodeCommitMetadata(new Map([[1, mark(2)]]), 2, undefined)).toBe('');
  });

  it('keeps the lowest offsets when the marks do not all fit', () => {
    const retries = new Map(Array.from({ length: 500 }, (_, i) => [1_000_000 + i, mark(2)] as const));
    const text = encodeCommitMetadata(retries, 0, undefined);
    expect(text.length).toBeLessThanOrEqual(MAX_METADATA_LENGTH);
    const kept = [...decodeCommitMetadata(text).retries.keys()];
    expect(kept.length).toBeGreaterThan(10);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 1_000_000 + i));
  });

  it.each([
    null,
    '',
    'written by another client',
    'tidings:1:{not json',
    'tidings:1:[1,2]',
    'tidings:1:{"r":[["x",1,"t"]],"d":[1]}',
  ])('reads %j as empty', (text) => {
    const decoded = decodeCommitMetadata(text);
    expect(decoded.retries.size).toBe(0);
    expect(decoded.drain).toBeUndefined();
  });
});
