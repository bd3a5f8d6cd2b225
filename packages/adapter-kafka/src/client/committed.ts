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
    const aborts = new AbortedTransactions(abortedTransactions ?? []);
    for (const message of messages) {
      const aborted = aborts.marks(
        Number(message.offset),
        message.batchContext?.producerId,
        message.batchContext?.inTransaction === true,
        message.isControlRecord === true,
        message.key,
      );
      out.push({ ...message, aborted });
    }
  }
  return out;
}

/**
 * @internal The rule of {@link committedOnly} for one partition, one record at a time, for a decoder
 * that builds its records in a single pass: it is told each record in offset order, transaction
 * markers included, and answers whether that record belongs to an aborted transaction.
 * @example
 * const aborts = new AbortedTransactions(partition.abortedTransactions);
 * const aborted = aborts.marks(offset, producerId, inTransaction, isControl, key);
 */
export class AbortedTransactions {
  /** The aborted transactions, by first offset; those before `next` have begun. */
  private readonly pending: readonly { readonly producerId: string; readonly firstOffset: number }[];
  private next = 0;
  /** Producers whose aborted transaction has begun and whose abort marker has not come yet. */
  private readonly aborting = new Set<string>();

  constructor(listed: readonly { readonly producerId: string; readonly firstOffset: string }[]) {
    this.pending = listed
      .map(({ producerId, firstOffset }) => ({ producerId, firstOffset: Number(firstOffset) }))
      .sort((a, b) => a.firstOffset - b.firstOffset);
  }

  /** Whether the fetch listed no aborted transaction: then no record is aborted. */
  get none(): boolean {
    return this.pending.length === 0;
  }

  /** Whether the record at `offset` belongs to an aborted transaction (an abort marker does not). */
  marks(
    offset: number,
    producerId: string | undefined,
    inTransaction: boolean,
    control: boolean,
    key: Buffer | null | undefined,
  ): boolean {
    const { pending, aborting } = this;
    while (this.next < pending.length && offset >= pending[this.next]!.firstOffset) {
      aborting.add(pending[this.next++]!.producerId);
    }
    if (producerId === undefined || !aborting.has(producerId)) return false;
    if (control && isAbortMarker(key)) {
      aborting.delete(producerId);
      return false;
    }
    return inTransaction;
  }
}

/** A control record's key is a version and a type, two 16-bit integers; type 0 is ABORT. */
function isAbortMarker(key: Buffer | null | undefined): boolean {
  return key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === 0;
}
