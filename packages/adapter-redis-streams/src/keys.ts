/**
 * Names of the keys the adapter keeps beside its streams. The names they are about are written
 * as a JSON array, which no two different lists of names share, whatever characters they hold.
 */
export const keys = {
  /** Sorted set: ids of pending entries waiting for a retry, scored by their due time (ms). */
  due: (stream: string, group: string): string => `tidings:due:${JSON.stringify([stream, group])}`,
  /** Hash: id of a retried entry → the headers the retry added, as JSON. */
  retryHeaders: (stream: string, group: string): string =>
    `tidings:retry-headers:${JSON.stringify([stream, group])}`,
  /** String with a TTL: which member reads the stream for an ordered subscription of the group. */
  lease: (stream: string, group: string): string => `tidings:lease:${JSON.stringify([stream, group])}`,
  /**
   * Sorted set: the members of an ordered subscription of the group on a topic, scored by when
   * they stop counting unless they renew; they share the topic's shards.
   */
  members: (topic: string, group: string): string => `tidings:members:${JSON.stringify([topic, group])}`,
  /** String: how many shards the topic has, written by the first adapter that uses it. */
  shards: (topic: string): string => `tidings:shards:${JSON.stringify([topic])}`,
};
