import { ConfigError } from '@tidings/core/adapter';
import { connectionFailure, connectWithin, isBusyGroup, isNoGroup, isWrongType } from './connection';
import { type EntryRef, type Member, sleep } from './member';
import { asArray, asText, claimedEntries, readEntries } from './replies';
import { ownPending } from './scripts';

// Pending entries examined per script call when looking for replies lost with a connection.
const PAGE = 100;

/**
 * The reading part of a subscription: a blocking `XREADGROUP ... >` on a connection of its own,
 * fetching no more than the dispatcher has room for, on the streams the member may read. After the
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
    const { reader, options } = this.member.context;
    await connectWithin(reader, options.connectTimeoutMs, 'stream reader', options.redact);
    this.readerId = Number(await reader.client('ID'));
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
    const { command, reader, options } = this.member.context;
    let done = false;
    void reading.finally(() => {
      done = true;
    });
    const deadline = Date.now() + options.blockMs + 1_000;
    while (!done && Date.now() < deadline) {
      if (this.readerId !== undefined && command.status === 'ready') {
        await command.client('UNBLOCK', this.readerId).catch(() => undefined);
      }
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
    const { command, options } = this.member.context;
    if (this.readerId !== undefined && command.status === 'ready') {
      await command.client('UNBLOCK', this.readerId).catch(() => undefined);
    }
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
      const readable = member.streams.filter((_, i) => member.mayRead(i));
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

  /** One blocking read and the hand-over of its entries; returns the failures in a row. */
  private async read(readable: string[], count: number, failures: number): Promise<number> {
    const member = this.member;
    const { reader, options } = member.context;
    let reply: unknown;
    try {
      reply = await reader.callBuffer(
        'xreadgroup',
        'GROUP',
        member.group,
        member.consumer,
        'COUNT',
        count,
        'BLOCK',
        options.blockMs,
        'STREAMS',
        ...readable,
        ...readable.map(() => '>'),
      );
    } catch (error) {
      if (member.phase !== 'running') return failures;
      member.noteError(error);
      // The group was deleted under us (an operator's XGROUP DESTROY or DEL): make it again.
      if (isNoGroup(error)) await createGroups(member).catch((e: unknown) => member.noteError(e));
      await sleep(Math.min(2_000, 100 * 2 ** failures));
      return failures + 1;
    }
    // After a reconnection the entries of this reply are among our own pending ones, which
    // the next turn picks up in id order with any reply that was lost.
    if (member.lookForLostReads) return 0;
    try {
      const late: EntryRef[] = [];
      for (const entry of readEntries(reply)) {
        const index = member.streams.indexOf(entry.stream);
        if (index < 0 || entry.fields === null) continue;
        // Ordered: a read that returns after the lease ran out gives its entries to the next holder.
        if (!member.mayRead(index)) late.push({ index, id: entry.id });
        else member.accept(index, { ...entry, fields: entry.fields, deliveries: 1 });
      }
      if (late.length > 0) await member.releaseIds(late, true);
    } catch (error) {
      // Unreadable reply: what it held stays pending and is claimed again later.
      member.noteError(error);
    }
    return 0;
  }

  /**
   * After a reconnection ioredis sends the interrupted read again; it must end at once, so that
   * the reader looks for lost replies before anything newer. The reader's new client id is
   * found by its name: asking the reader itself would queue behind the read.
   */
  private async cutShortResentRead(): Promise<void> {
    try {
      const { command, reader } = this.member.context;
      const list = asText(await command.callBuffer('client', 'LIST', 'TYPE', 'normal'), 'CLIENT LIST');
      const line = list.split('\n').find((l) => l.includes(` name=${reader.options.connectionName} `));
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
    let cursors: (string | false)[] = member.streams.map(() => '-');
    while (cursors.some((cursor) => cursor !== false)) {
      const args: (string | number)[] = [member.group, member.consumer, PAGE];
      for (const [i, cursor] of cursors.entries()) {
        const held = [...member.held.values()].filter((d) => d.index === i).map((d) => d.id);
        // A finished stream is asked from its end, which yields nothing.
        args.push(cursor === false ? '+' : cursor, held.length, ...held);
      }
      const reply = asArray(await ownPending.run(member.command, member.streamKeyTriples(), args), 'reply');
      cursors = asArray(reply[0], 'cursors').map((c) =>
        c === null || c === false ? false : asText(c, 'cursor'),
      );
      const late: EntryRef[] = [];
      for (const entry of claimedEntries(reply[1])) {
        if (member.holdsLease(entry.streamIndex)) member.acceptClaimed([entry]);
        else late.push({ index: entry.streamIndex, id: entry.id });
      }
      if (late.length > 0) await member.releaseIds(late, false);
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
