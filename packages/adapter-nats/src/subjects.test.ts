import { describe, expect, it } from 'vitest';
import { consumerName, partitionOfKey, partitionSubject, subjectProblem, topicFilter } from './subjects';

describe('subjects', () => {
  it('accepts dotted and unicode names, refuses what a subject cannot hold', () => {
    expect(subjectProblem('order.placed')).toBeUndefined();
    expect(subjectProblem('żółw-🐢')).toBeUndefined();
    expect(subjectProblem('')).toBe('is empty');
    expect(subjectProblem('a..b')).toBe('has an empty token');
    expect(subjectProblem('.a')).toBe('has an empty token');
    expect(subjectProblem('a b')).toMatch(/whitespace/);
    expect(subjectProblem('a.*')).toMatch(/"\*"/);
    expect(subjectProblem('a>')).toMatch(/">"/);
    expect(subjectProblem('a\u0001')).toMatch(/control/);
  });

  it('puts the partition last, so a topic filter matches its partitions and no deeper topic', () => {
    expect(partitionSubject('tidings', 'order.placed', 3)).toBe('tidings.order.placed.3');
    expect(topicFilter('tidings', 'order')).toBe('tidings.order.*');
  });

  it('hashes keys with FNV-1a, the same everywhere', () => {
    // FNV-1a 32 of "a" is 0xe40c292c.
    expect(partitionOfKey('a', 2 ** 31)).toBe(0xe40c292c % 2 ** 31);
    expect(partitionOfKey('', 8)).toBe(0x811c9dc5 % 8);
    const spread = new Set(Array.from({ length: 200 }, (_, i) => partitionOfKey(`key-${i}`, 8)));
    expect(spread.size).toBe(8);
  });

  it('names consumers readably, safely and distinctly', () => {
    const name = consumerName('billing', 'order.placed');
    expect(name).toMatch(/^billing__order_placed__[0-9a-f]{10}$/);
    expect(consumerName('billing', 'order.placed', 2)).toBe(`${name}-p2`);
    // Names that read alike stay apart.
    expect(consumerName('a.b', 'c')).not.toBe(consumerName('a_b', 'c'));
    expect(consumerName('żółw 🐢', 'x')).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
