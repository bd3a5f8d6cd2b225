import { topicProblem } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { consumerName, NATS_TOPIC_RULE, partitionOfKey, partitionSubject, topicFilter } from './subjects';

const problem = (topic: unknown): string | undefined => topicProblem(NATS_TOPIC_RULE, topic);

describe('subjects', () => {
  it('accepts dotted and unicode names, refuses what a subject cannot hold, in one wording', () => {
    expect(problem('order.placed')).toBeUndefined();
    expect(problem('żółw-🐢')).toBeUndefined();
    expect(problem('hash#')).toBeUndefined();
    expect(problem('a'.repeat(512))).toBeUndefined();
    expect(problem('')).toBe('a topic must not be empty');
    expect(problem(42)).toBe('a topic must be a string, got number');
    expect(problem('a'.repeat(513))).toMatch(/is 513 bytes long; the limit is 512/);
    // Bytes, not characters.
    expect(problem('ż'.repeat(257))).toMatch(/is 514 bytes long/);
    for (const bad of [
      'a..b',
      '.a',
      'a.',
      'a b',
      'a\tb',
      'a.*',
      'a*b',
      'a>',
      'a.>',
      'a\u0001',
      'new\nline',
    ]) {
      expect(problem(bad), JSON.stringify(bad)).toMatch(
        /is not a valid name here: dot-separated non-empty tokens without whitespace, control characters, '\*' or '>'/,
      );
    }
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
