import { describe, expect, it } from 'vitest';
import { clusterKeys, clusterStream, keys, tagOf } from './keys';
import { Shards } from './shards';

describe('key layout', () => {
  it('keeps the single-server names as they always were', () => {
    expect(keys.due('orders', 'g')).toBe('tidings:due:["orders","g"]');
    expect(new Shards(2).streams('orders')).toEqual(['orders:shard-0', 'orders:shard-1']);
    expect(new Shards(1).streamFor('orders', 'k')).toBe('orders');
  });

  it('puts each cluster stream and its side keys under one hash tag, every shard under its own', () => {
    const shards = new Shards(3, true);
    const streams = shards.streams('orders');
    expect(streams).toEqual(['{orders:shard-0}', '{orders:shard-1}', '{orders:shard-2}']);
    expect(new Set(streams.map(tagOf)).size).toBe(3);
    for (const stream of [...streams, clusterStream('a"b\\c{d'), clusterStream('ü:x')]) {
      expect(tagOf(clusterKeys.due(stream, 'g{1}'))).toBe(tagOf(stream));
      expect(tagOf(clusterKeys.retryHeaders(stream, '"g"'))).toBe(tagOf(stream));
    }
  });

  it('reads a hash tag as Redis Cluster does', () => {
    expect(tagOf('plain')).toBe('plain');
    expect(tagOf('{a}b')).toBe('a');
    expect(tagOf('x{}y{z}')).toBe('x{}y{z}');
    expect(tagOf('{a')).toBe('{a');
  });
});
