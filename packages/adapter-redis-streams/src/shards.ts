import { crc32 } from 'node:zlib';

/**
 * How a topic is spread over streams. With one shard (the default) the topic is one stream of its
 * own name. With `n` shards it is the streams `<topic>:shard-0` … `<topic>:shard-<n-1>`, and a
 * record of key `k` goes to shard `crc32(utf8(k)) mod n` (CRC-32 as zlib computes it, so that
 * other languages can publish to the same shards); records without a key go round the shards.
 */
export class Shards {
  private turn = 0;

  constructor(readonly count: number) {}

  /** The streams of a topic, in shard order. */
  streams(topic: string): string[] {
    if (this.count === 1) return [topic];
    return Array.from({ length: this.count }, (_, shard) => `${topic}:shard-${shard}`);
  }

  /** The stream a record of `key` goes to. */
  streamFor(topic: string, key: string | undefined): string {
    if (this.count === 1) return topic;
    const shard = key === undefined ? this.turn++ % this.count : crc32(key) % this.count;
    return `${topic}:shard-${shard}`;
  }
}
