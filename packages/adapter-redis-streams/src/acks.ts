import type { RedisClient } from './connection';
import type { KeyNames } from './keys';

interface StreamBatch {
  readonly ids: string[];
  /** Ids of entries that were retried, whose retry headers go with the acknowledgement. */
  readonly retried: string[];
  /**
   * Settles with the batch's `XACK`: every caller of the batch gets this one promise, since they
   * all learn the same outcome (a promise and its resolvers per ack were a tenth of the GC work).
   */
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Acknowledges entries in batches: the acknowledgements of handlers that finish in the same turn
 * of the event loop travel as one `XACK` per stream, on the command connection, or with the
 * reader's next read when it comes first ({@link sendWith}). Each caller still learns whether its
 * own acknowledgement reached the server.
 */
export class AckBatcher {
  private batches = new Map<string, StreamBatch>();
  private scheduled = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly group: string,
    private readonly keys: KeyNames,
  ) {}

  /** Acknowledges `id` of `stream`; `retried` also drops the headers its retries added. */
  ack(stream: string, id: string, retried: boolean): Promise<void> {
    let batch = this.batches.get(stream);
    if (batch === undefined) {
      batch = newBatch();
      this.batches.set(stream, batch);
    }
    batch.ids.push(id);
    if (retried) batch.retried.push(id);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
    return batch.done;
  }

  /**
   * Sends the acknowledgements waiting for the end of the turn now, on `redis`: the reader puts
   * them in the same socket write as its next `XREADGROUP`, ahead of it on the same connection,
   * which saves a write and a reply on the command connection per batch. An `XACK` is never a
   * blocking command, so nothing holds it behind the read.
   */
  sendWith(redis: RedisClient): void {
    if (this.batches.size > 0) this.flush(redis);
  }

  private flush(redis: RedisClient = this.redis): void {
    const batches = this.batches;
    this.batches = new Map();
    for (const [stream, batch] of batches) {
      let sent: Promise<unknown>;
      if (batch.retried.length === 0) {
        sent = redis.callBuffer('xack', stream, this.group, ...batch.ids);
      } else {
        sent = redis
          .pipeline()
          .callBuffer('xack', stream, this.group, ...batch.ids)
          .callBuffer('hdel', this.keys.retryHeaders(stream, this.group), ...batch.retried)
          .exec()
          .then((results) => {
            const failed = results?.find(([error]) => error !== null)?.[0];
            if (failed) throw failed;
          });
      }
      sent.then(batch.resolve, batch.reject);
    }
  }
}

function newBatch(): StreamBatch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { ids: [], retried: [], done, resolve, reject };
}
