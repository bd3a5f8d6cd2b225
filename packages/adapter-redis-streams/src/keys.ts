/**
 * Names of the keys the adapter keeps beside a stream for one consumer group. A topic is the
 * stream's key as it is. The stream and group names are written as a JSON array, which no two
 * different pairs share, whatever characters the names hold.
 */
export const keys = {
  /** Sorted set: ids of pending entries waiting for a retry, scored by their due time (ms). */
  due: (stream: string, group: string): string => `tidings:due:${JSON.stringify([stream, group])}`,
  /** Hash: id of a retried entry → the headers the retry added, as JSON. */
  retryHeaders: (stream: string, group: string): string =>
    `tidings:retry-headers:${JSON.stringify([stream, group])}`,
  /** String with a TTL: which member reads the stream for an ordered subscription of the group. */
  lease: (stream: string, group: string): string => `tidings:lease:${JSON.stringify([stream, group])}`,
};
