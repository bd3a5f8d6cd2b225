import { ConfigError } from '@tidings/core/adapter';
import {
  connectionFailure,
  connectionNameOf,
  connectWithin,
  isBusyGroup,
  isNoGroup,
  isWrongType,
  primariesOf,
  writeTogether,
} from './connection';
import { type EntryRef, inGroup, type Member, sleep } from './member';
import { asArray, asText, claimedEntries, readEntries } from './replies';
import { ownPending } from './scripts';

// Pending entries examined per script call when looking for replies lost with a connection.
const PAGE = 100;
// On a cluster, a member whose streams lie in several slots reads them with one XREADGROUP per
// slot; those that go to the same node wait for each other, so each blocks this long at most.
const SLOT_READ_BLOCK_MS = 250;

/**
 * The reading part of a subscription: a blocking `XREADGROUP ... >` on a connection of its own,
 * fetching no more than the dispatcher has room for (up to the subscription's prefetch, running
 * and waiting together), on the streams the member may read. After the
 * reader reconnects it first picks up, in id order, the entries delivered to it whose reply was
 * lost on the way.
 */
export class StreamReader {
  private readerId: number | undefined;
  private reading: Promise<void> | undefined;
  /** The read under way, up to the hand-over of what it brought. */
  private turn: Promise<void> | undefined;

  constructor(private readonly member: Member) {}

  /** Connects the reader; {@link run} starts reading. */
  async connect(): Promise<void> {
    const { reader, options, shards } = this.member.context;
    await connectWithin(reader, options.connectTimeoutMs, 'stream reader', options.redact);
    // On a cluster the reader has a connection per node, found by name when it must be unblocked.
    if (!shards.clustered) this.readerId = Number(await reader.client('ID'));
    reader.on('ready', () => {
      this.member.lookForLostReads = true;
      this.member.nudge();
      void this.cutShortResentRead();
    });
  }

  /** Starts the read loop. */
  run(): void {
    this.reading = this.loop();
  }

  /**
   * Ends the blocking read: `CLIENT UNBLOCK` makes it return at once. If the reader is cut off
   * (reconnecting), its read cannot end by itself, so after one block time it is disconnected.
   */
  async stop(): Promise<void> {
    const reading = this.reading;
    if (reading === undefined) return;
    const { reader, options } = this.member.context;
    let done = false;
    void reading.finally(() => {
      done = true;
    });
    const deadline = Date.now() + options.blockMs + 1_000;
    while (!done && Date.now() < deadline) {
      await this.unblock().catch(() => undefined);
      await Promise.race([reading, sleep(50)]);
    }
    if (!done) reader.disconnect();
    await reading;
  }

  /**
   * Ends the read under way (`CLIENT UNBLOCK`) and resolves once it has returned and handed over
   * what it brought, at most one block time later: an ordered member giving a stream up stops
   * reading it before it lets another member take it. Call after making the stream unreadable.
   */
  async interrupt(): Promise<void> {
    const turn = this.turn;
    if (turn === undefined) return;
    const { options } = this.member.context;
    await this.unblock().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      turn,
      new Promise((resolve) => (timer = setTimeout(resolve, options.blockMs + 1_000))),
    ]);
    clearTimeout(timer);
  }

  private async loop(): Promise<void> {
    const member = this.member;
    const { options } = member.context;
    let failures = 0;
    while (member.phase === 'running') {
      // No room while paused. Closing must not wait for room: the handlers holding it may never finish.
      await Promise.race([member.dispatcher.whenRoom(), member.stopping.promise]);
      if (member.phase !== 'running' || member.dispatcher.paused) continue;
      if (member.lookForLostReads) {
        member.lookForLostReads = false;
        await this.recoverLostReads().catch((error: unknown) => member.noteError(error));
        continue;
      }
      const readable = [...member.streams.keys()].filter((i) => member.mayRead(i));
      if (readable.length === 0) {
        // Ordered and no lease yet: the lease timer nudges when one is taken.
        await member.nudged(options.blockMs);
        continue;
      }
      // COUNT applies per stream: share the room out so one read cannot fetch much beyond it.
      const count = Math.max(1, Math.ceil(member.dispatcher.room / readable.length));
      let endTurn!: () => void;
      this.turn = new Promise<void>((resolve) => {
        endTurn = resolve;
      });
      try {
        failures = await this.read(readable, count, failures);
      } finally {
        this.turn = undefined;
        endTurn();
      }
    }
  }

  /**
   * One blocking read and the hand-over of its entries; returns the failures in a row. On a
   * cluster, one `XREADGROUP` per slot the readable streams lie in, sent together.
   */
  private async read(readable: readonly number[], count: number, failures: number): Promise<number> {
    const member = this.member;
    const { reader, options, shards } = member.context;
    const groups = member.slotGroups
      .map((indexes) => indexes.filter((index) => readable.includes(index)))
      .filter((indexes) => indexes.length > 0);
    const block = groups.length > 1 ? Math.min(options.blockMs, SLOT_READ_BLOCK_MS) : options.blockMs;
    if (!shards.clustered && reader.status === 'ready') {
      // The acks of the handlers just finished go in the same write, ahead of the read.
      writeTogether(reader);
      member.acks.sendWith(reader);
    }
    const replies = await Promise.allSettled(
      groups.map((indexes) => {
        const streams = member.streamsAt(indexes);
        return reader.callBuffer(
          'xreadgroup',
          'GROUP',
          member.group,
          member.consumer,
          'COUNT',
          count,
          'BLOCK',
          block,
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        );
      }),
    );
    let failed: unknown;
    for (const reply of replies) {
      if (reply.status === 'rejected') failed = reply.reason;
      else await this.handOver(reply.value);
    }
    if (failed === undefined || member.phase !== 'running') return 0;
    member.noteError(failed);
    // On a cluster the reader has no 'ready' of its own when one node's connection drops: a read
    // that failed may have been served, its reply lost, so its entries are looked for as such.
    if (shards.clustered) member.lookForLostReads = true;
    // The group was deleted under us (an operator's XGROUP DESTROY or DEL): make it again.
    if (isNoGroup(failed)) await createGroups(member).catch((e: unknown) => member.noteError(e));
    await sleep(Math.min(2_000, 100 * 2 ** failures));
    return failures + 1;
  }

  /** Hands the entries of one `XREADGROUP` reply over to the dispatcher. */
  private async handOver(reply: unknown): Promise<void> {
    const member = this.member;
    // After a reconnection the entries of this reply are among our own pending ones, which
    // the next turn picks up in id order with any reply that was lost.
    if (member.lookForLostReads) return;
    try {
      const late: EntryRef[] = [];
      for (const entry of readEntries(reply)) {
        const index = member.streams.indexOf(entry.stream);
        if (index < 0 || entry.fields === null) continue;
        // Ordered: a read that returns after the lease ran out gives its entries to the next holder.
        if (!member.mayRead(index)) late.push({ index, id: entry.id });
        // A read with '>' is each entry's first delivery.
        else member.accept(index, { id: entry.id, fields: entry.fields, deliveries: 1 });
      }
      if (late.length > 0) await member.releaseIds(late, true);
    } catch (error) {
      // Unreadable reply: what it held stays pending and is claimed again later.
      member.noteError(error);
    }
  }

  /**
   * Makes the reader's blocking read return at once (`CLIENT UNBLOCK`): by its client id on one
   * server; on a cluster, on every primary, by the name its connections carry.
   */
  private async unblock(): Promise<void> {
    const { command, reader, shards } = this.member.context;
    if (!shards.clustered) {
      if (this.readerId !== undefined && command.status === 'ready') {
        await command.client('UNBLOCK', this.readerId);
      }
      return;
    }
    const name = connectionNameOf(reader);
    await Promise.all(
      primariesOf(command).map(async (node) => {
        const list = asText(await node.callBuffer('client', 'LIST', 'TYPE', 'normal'), 'CLIENT LIST');
        for (const line of list.split('\n')) {
          const id = line.includes(` name=${name} `) ? /^id=(\d+)/.exec(line)?.[1] : undefined;
          if (id !== undefined) await node.client('UNBLOCK', id);
        }
      }),
    );
  }

  /**
   * After a reconnection ioredis sends the interrupted read again; it must end at once, so that
   * the reader looks for lost replies before anything newer. The reader's new client id is
   * found by its name: asking the reader itself would queue behind the read.
   */
  private async cutShortResentRead(): Promise<void> {
    try {
      const { command, reader, shards } = this.member.context;
      if (shards.clustered) {
        await this.unblock();
        return;
      }
      const list = asText(await command.callBuffer('client', 'LIST', 'TYPE', 'normal'), 'CLIENT LIST');
      const line = list.split('\n').find((l) => l.includes(` name=${connectionNameOf(reader)} `));
      const id = line === undefined ? undefined : /^id=(\d+)/.exec(line)?.[1];
      if (id === undefined) return;
      this.readerId = Number(id);
      await command.client('UNBLOCK', this.readerId);
    } catch (error) {
      this.member.noteError(error);
    }
  }

  /** Picks up our own pending entries that no handler has: replies lost when the reader dropped. */
  private async recoverLostReads(): Promise<void> {
    const member = this.member;
    for (const indexes of member.slotGroups) {
      let cursors: (string | false)[] = indexes.map(() => '-');
      while (cursors.some((cursor) => cursor !== false)) {
        const args: (string | number)[] = [member.group, member.consumer, PAGE];
        for (const [i, cursor] of cursors.entries()) {
          const index = indexes[i]!;
          const held = [...member.held.values()].filter((d) => d.index === index).map((d) => d.id);
          // A finished stream is asked from its end, which yields nothing.
          args.push(cursor === false ? '+' : cursor, held.length, ...held);
        }
        const reply = asArray(
          await ownPending.run(member.command, member.streamKeyTriples(indexes), args),
          'reply',
        );
        cursors = asArray(reply[0], 'cursors').map((c) =>
          c === null || c === false ? false : asText(c, 'cursor'),
        );
        const late: EntryRef[] = [];
        for (const entry of inGroup(claimedEntries(reply[1]), indexes)) {
          if (member.holdsLease(entry.streamIndex)) member.acceptClaimed([entry]);
          else late.push({ index: entry.streamIndex, id: entry.id });
        }
        if (late.length > 0) await member.releaseIds(late, false);
      }
    }
  }
}

/**
 * Creates the member's group on each of its streams (`XGROUP CREATE ... MKSTREAM`, from the start
 * or the end as the spec says); a group that exists already is left as it is.
 */
export async function createGroups(member: Member): Promise<void> {
  const { command, spec, options } = member.context;
  const start = spec.startFrom === 'earliest' ? '0' : '$';
  for (const stream of member.streams) {
    try {
      await command.callBuffer('xgroup', 'CREATE', stream, member.group, start, 'MKSTREAM');
    } catch (error) {
      if (isBusyGroup(error)) continue;
      const { redact } = options;
      if (isWrongType(error)) {
        throw new ConfigError('topics', `"${stream}" is a Redis key that is not a stream`, {
          cause: redact.error(error),
        });
      }
      // Refused (NOPERM, OOM) or unanswered: either way the subscription cannot start.
      throw connectionFailure(`cannot create group "${member.group}" on "${stream}"`, error, redact);
    }
  }
}
