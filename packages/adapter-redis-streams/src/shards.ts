import { crc32 } from 'node:zlib';
import { ConfigError, PublishError, type Redactor } from '@tidings/core/adapter';
import { connectionFailure, isReplyError, type RedisClient } from './connection';
import { checkClusterTopic, clusterKeys, clusterStream, type KeyNames, keys } from './keys';
import { shardCount } from './scripts';

/**
 * How a topic is spread over streams. With one shard (the default) the topic is one stream of its
 * own name. With `n` shards it is the streams `<topic>:shard-0` … `<topic>:shard-<n-1>`, and a
 * record of key `k` goes to shard `crc32(utf8(k)) mod n` (CRC-32 as zlib computes it, so that
 * other languages can publish to the same shards); records without a key go round the shards.
 */
export class Shards {
  private turn = 0;
  /** Topics whose shard count was checked against the one recorded in Redis. */
  private readonly checks = new Map<string, Promise<void>>();

  /** The names of the keys beside the streams, for this layout. */
  readonly keys: KeyNames;

  constructor(
    readonly count: number,
    readonly clustered = false,
  ) {
    this.keys = clustered ? clusterKeys : keys;
  }

  /** The streams of a topic, in shard order. */
  streams(topic: string): string[] {
    if (this.count === 1) return [this.named(topic)];
    return Array.from({ length: this.count }, (_, shard) => this.named(`${topic}:shard-${shard}`));
  }

  /** The stream a record of `key` goes to. */
  streamFor(topic: string, key: string | undefined): string {
    if (this.count === 1) return this.named(topic);
    const shard = key === undefined ? this.turn++ % this.count : crc32(key) % this.count;
    return this.named(`${topic}:shard-${shard}`);
  }

  private named(name: string): string {
    return this.clustered ? clusterStream(name) : name;
  }

  /**
   * Makes sure every adapter on `topic` spreads it over the same number of streams: the first
   * records its count in Redis, the others compare. Checked once per topic (a failed check is
   * tried again next time). Rejects with a `ConfigError` naming `shards` when the counts differ, a
   * `PublishError` when Redis refuses the check, a `ConnectionError` when it does not answer.
   */
  check(redis: RedisClient, topic: string, redact: Redactor): Promise<void> {
    if (this.clustered) checkClusterTopic(topic);
    let check = this.checks.get(topic);
    if (check === undefined) {
      check = this.compare(redis, topic, redact);
      check.catch(() => this.checks.delete(topic));
      this.checks.set(topic, check);
    }
    return check;
  }

  private async compare(redis: RedisClient, topic: string, redact: Redactor): Promise<void> {
    let recorded: number;
    try {
      recorded = Number(await shardCount.run(redis, [this.keys.shards(topic)], [this.count]));
    } catch (error) {
      const why = `cannot read the shard count of topic "${topic}"`;
      throw isReplyError(error)
        ? new PublishError(redact.text(`${why}: ${(error as Error).message}`), {
            cause: redact.error(error),
            topic,
          })
        : connectionFailure(why, error, redact);
    }
    if (recorded !== this.count) {
      throw new ConfigError(
        'shards',
        `topic "${topic}" is spread over ${recorded} stream(s) by the adapters that use it; this adapter has shards: ${this.count}`,
      );
    }
  }
}
