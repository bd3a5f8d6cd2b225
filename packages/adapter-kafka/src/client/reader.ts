/**
 * What the adapter needs to read a log outside any consumer group (browsing dead letters, reading a
 * ledger) and to move a group's offsets as no member of it (replay). Each client implements it in
 * `client/<name>/reader.ts`.
 *
 * @module
 */

/** @internal Headers of a fetched record: a value per name, or every value when a name repeats. */
export type FetchedHeaders = Readonly<
  Record<string, Buffer | string | readonly (Buffer | string)[] | undefined>
>;

/** @internal A record as one fetch returned it. */
export interface FetchedRecord {
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /**
   * The record's headers as Tidings reads them (`fromKafkaHeaders` and `fromKafkaHeaderPairs` in
   * `codec.ts`): one string per name, no prototype. Made for this record alone: the subscription
   * adds its retry state to it.
   */
  readonly headers: Record<string, string>;
  /** A transaction marker (commit or abort), not a record anybody produced. */
  readonly control: boolean;
  /** Written in a transaction that was aborted: a read-committed reader skips it. */
  readonly aborted: boolean;
}

/**
 * @internal Group-less reads and commits. One instance per adapter; its connections open on first
 * use. Calls may run concurrently.
 */
export interface KafkaLogReaderClient {
  /**
   * One read-committed Fetch of `topic`/`partition` at `offset` from the partition's leader: no
   * group, nothing committed. Returns the records of the batches the broker sent, in offset order;
   * the first batch may start before `offset`, and an open transaction ends the answer before it
   * (the broker serves up to the last stable offset). Rejects with the client's error.
   */
  fetch(topic: string, partition: number, offset: number, maxBytes: number): Promise<FetchedRecord[]>;
  /**
   * Commits `offsets` (partition → offset) of `topic` for `group` as no member of it (generation
   * -1, no member id): the coordinator takes it only while the group has no member. A refusal
   * rejects with an error whose `type` is Kafka's error name (`UNKNOWN_MEMBER_ID`,
   * `ILLEGAL_GENERATION`), where `errors.ts` and the callers look for it.
   */
  commitAsNoMember(group: string, topic: string, offsets: ReadonlyMap<number, number>): Promise<void>;
  /** Closes its connections, if open; never rejects. */
  close(): Promise<void>;
}
