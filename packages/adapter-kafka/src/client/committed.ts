/**
 * Read-committed filtering of fetched records, for every client: a Fetch response lists the aborted
 * transactions beside the records but leaves their records in (kafkajs and @platformatic/kafka
 * both hand them over as they came), so a group-less reader drops them itself.
 *
 * @module
 */

/** @internal What the filter reads of a fetched record; offsets and producer ids are decimal strings. */
export interface TransactionalMessage {
  readonly offset: string;
  readonly key?: Buffer | null;
  /** A transaction marker (commit or abort), not a record anybody produced. */
  readonly isControlRecord?: boolean;
  readonly batchContext?: { readonly producerId: string; readonly inTransaction: boolean };
}

/**
 * @internal The fetched messages in offset order, each marked when it belongs to an aborted transaction: the
 * broker lists those transactions (producer and first offset) beside the records of a read-committed
 * fetch, and a reader skips a producer's transactional records from that offset to its abort marker.
 * @example
 * const kept = committedOnly(partitions).filter((m) => !m.aborted && m.isControlRecord !== true);
 */
export function committedOnly<TMessage extends TransactionalMessage>(
  partitions: readonly {
    readonly partition?: number;
    readonly messages: readonly TMessage[];
    readonly abortedTransactions?: readonly { readonly producerId: string; readonly firstOffset: string }[];
  }[],
): (TMessage & { aborted: boolean })[] {
  const out: (TMessage & { aborted: boolean })[] = [];
  for (const { messages, abortedTransactions } of partitions) {
    const pending = [...(abortedTransactions ?? [])].sort(
      (a, b) => Number(a.firstOffset) - Number(b.firstOffset),
    );
    const aborting = new Set<string>();
    for (const message of messages) {
      const offset = Number(message.offset);
      while (pending.length > 0 && offset >= Number(pending[0]!.firstOffset))
        aborting.add(pending.shift()!.producerId);
      const producer = message.batchContext?.producerId;
      let aborted = false;
      if (producer !== undefined && aborting.has(producer)) {
        if (message.isControlRecord === true && isAbortMarker(message)) aborting.delete(producer);
        else aborted = message.batchContext?.inTransaction === true;
      }
      out.push({ ...message, aborted });
    }
  }
  return out;
}

/** A control record's key is a version and a type, two 16-bit integers; type 0 is ABORT. */
function isAbortMarker(message: TransactionalMessage): boolean {
  const key = message.key;
  return key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === 0;
}
