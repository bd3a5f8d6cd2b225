import { ConfigError } from '@tidings/core/adapter';

/**
 * Names of the keys the adapter keeps beside its streams. The names they are about are written
 * as a JSON array, which no two different lists of names share, whatever characters they hold.
 */
export interface KeyNames {
  /** Sorted set: ids of pending entries waiting for a retry, scored by their due time (ms). */
  due(stream: string, group: string): string;
  /** Hash: id of a retried entry → the headers the retry added, as JSON. */
  retryHeaders(stream: string, group: string): string;
  /** String with a TTL: which member reads the stream for an ordered subscription of the group. */
  lease(stream: string, group: string): string;
  /**
   * Sorted set: the members of an ordered subscription of the group on a topic, scored by when
   * they stop counting unless they renew; they share the topic's shards.
   */
  members(topic: string, group: string): string;
  /** String: how many shards the topic has, written by the first adapter that uses it. */
  shards(topic: string): string;
}

/** The single-server layout: the key names every version of the adapter has used. */
export const keys: KeyNames = {
  due: (stream, group) => `tidings:due:${JSON.stringify([stream, group])}`,
  retryHeaders: (stream, group) => `tidings:retry-headers:${JSON.stringify([stream, group])}`,
  lease: (stream, group) => `tidings:lease:${JSON.stringify([stream, group])}`,
  members: (topic, group) => `tidings:members:${JSON.stringify([topic, group])}`,
  shards: (topic) => `tidings:shards:${JSON.stringify([topic])}`,
};

/**
 * The Redis Cluster layout. A cluster runs a command or script only when all its keys hash to one
 * slot, and hashes only the part of a key inside its first `{...}` when there is one (the hash
 * tag). So each stream is named `{<name>}` (`{order.placed}`, `{order.placed:shard-3}`: every
 * shard its own tag, so a topic's shards spread over the slots and nodes), and the keys that go
 * with a stream in one script (its due set and retry headers) carry the stream's tag in front.
 * The lease, members and shard-count keys are only ever used alone and keep their names.
 */
export const clusterKeys: KeyNames = {
  due: (stream, group) => `tidings:due:{${tagOf(stream)}}:${JSON.stringify([stream, group])}`,
  retryHeaders: (stream, group) =>
    `tidings:retry-headers:{${tagOf(stream)}}:${JSON.stringify([stream, group])}`,
  lease: keys.lease,
  members: keys.members,
  shards: keys.shards,
};

/** The cluster name of a stream: the single-server name as its own hash tag. */
export function clusterStream(name: string): string {
  return `{${name}}`;
}

/**
 * The part of a key Redis Cluster hashes: inside the first `{` and the first `}` after it when
 * that is not empty, else the whole key.
 */
export function tagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return key;
  return key.slice(open + 1, close);
}

/**
 * Refuses, on a cluster, topics with a `}`: their streams' hash tag would end early, and
 * the side keys could not be made to hash with them.
 */
export function checkClusterTopic(topic: string): void {
  if (topic.includes('}')) {
    throw new ConfigError('topic', `"${topic}" has a "}", which Redis Cluster key names cannot carry here`);
  }
}
