// Readers of the replies the adapter gets in buffer mode. They check shapes rather than cast, so a
// surprise from the server (or from a client upgrade) is an error with a message, not a crash
// deep in a consume loop.

/** One entry of an `XREADGROUP` reply. `fields` is null for an entry deleted while pending. */
export interface ReadEntry {
  readonly stream: string;
  readonly id: string;
  readonly fields: readonly Buffer[] | null;
}

/** One entry returned by a claim script (see `scripts.ts`). */
export interface ClaimedEntry {
  /** Index of the stream in the keys passed to the script, from 0. */
  readonly streamIndex: number;
  readonly id: string;
  readonly fields: readonly Buffer[];
  /** The group's delivery count of the entry, this delivery included. */
  readonly deliveries: number;
  /** The headers a retry added, as JSON, if the entry was retried. */
  readonly retryHeaders: string | undefined;
  /** For an entry that waits for a retry: how long until it is due, in ms. */
  readonly dueInMs: number | undefined;
}

/** A reply the adapter could not read. */
export class UnexpectedReplyError extends Error {
  override readonly name = 'UnexpectedReplyError';
}

function fail(what: string, value: unknown): never {
  let shown: string;
  try {
    shown = JSON.stringify(value)?.slice(0, 200) ?? String(value);
  } catch {
    shown = String(value);
  }
  throw new UnexpectedReplyError(`unexpected reply from Redis: ${what}, got ${shown}`);
}

export function asArray(value: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(value)) fail(`${what} should be an array`, value);
  return value;
}

export function asText(value: unknown, what: string): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'string') return value;
  return fail(`${what} should be a string`, value);
}

export function asInteger(value: unknown, what: string): number {
  const number =
    typeof value === 'number' ? value : Number(Buffer.isBuffer(value) ? value.toString() : value);
  if (!Number.isInteger(number)) fail(`${what} should be an integer`, value);
  return number;
}

function asFields(value: unknown, what: string): Buffer[] {
  const list = asArray(value, what);
  for (const item of list) if (!Buffer.isBuffer(item)) fail(`${what} should hold buffers`, item);
  return list as Buffer[];
}

/** Reads an `XREADGROUP` reply: `[[stream, [[id, fields | null], ...]], ...]` or null. */
export function readEntries(reply: unknown): ReadEntry[] {
  if (reply === null || reply === undefined) return [];
  const entries: ReadEntry[] = [];
  for (const streamReply of asArray(reply, 'XREADGROUP')) {
    const [name, items] = asArray(streamReply, 'XREADGROUP stream');
    const stream = asText(name, 'XREADGROUP stream name');
    for (const item of asArray(items, 'XREADGROUP entries')) {
      const [id, fields] = asArray(item, 'XREADGROUP entry');
      entries.push({
        stream,
        id: asText(id, 'entry id'),
        fields: fields === null ? null : asFields(fields, 'entry fields'),
      });
    }
  }
  return entries;
}

/** Reads the entries a claim script returns. */
export function claimedEntries(reply: unknown): ClaimedEntry[] {
  return asArray(reply, 'claimed entries').map((item) => {
    const [index, id, fields, deliveries, retryHeaders, dueInMs] = asArray(item, 'claimed entry');
    return {
      streamIndex: asInteger(index, 'stream index') - 1,
      id: asText(id, 'entry id'),
      fields: asFields(fields, 'entry fields'),
      deliveries: asInteger(deliveries, 'delivery count'),
      retryHeaders:
        retryHeaders === null || retryHeaders === undefined
          ? undefined
          : asText(retryHeaders, 'retry headers'),
      dueInMs: dueInMs === null || dueInMs === undefined ? undefined : asInteger(dueInMs, 'time until due'),
    };
  });
}

/** What `XINFO GROUPS` says of one group on one stream. */
export interface GroupInfo {
  readonly name: string;
  /** Entries delivered to the group's members and not acknowledged yet. */
  readonly pending: number;
  /** Entries not delivered to the group yet; null when Redis cannot tell (see `XINFO GROUPS`). */
  readonly lag: number | null;
}

/** Every group of an `XINFO GROUPS` reply. */
export function groupInfos(reply: unknown): GroupInfo[] {
  return asArray(reply, 'XINFO GROUPS').map((item) => {
    const values = fieldMap(item, 'a group of XINFO GROUPS');
    const lag = values.get('lag');
    return {
      name: asText(values.get('name'), 'the group name of XINFO GROUPS'),
      pending: asInteger(values.get('pending'), 'the pending count of XINFO GROUPS'),
      lag: lag === null || lag === undefined ? null : asInteger(lag, 'the lag of XINFO GROUPS'),
    };
  });
}

/** The entry of `group` in an `XINFO GROUPS` reply, or undefined when the stream has no such group. */
export function groupInfo(reply: unknown, group: string): GroupInfo | undefined {
  return groupInfos(reply).find((info) => info.name === group);
}

/** What `XINFO CONSUMERS` says of one consumer of a group. */
export interface ConsumerInfo {
  readonly name: string;
  readonly pending: number;
  /** Milliseconds since the consumer last tried to read (Redis 7.0: `idle`). */
  readonly idleMs: number;
}

/** Every consumer of an `XINFO CONSUMERS` reply. */
export function consumerInfos(reply: unknown): ConsumerInfo[] {
  return asArray(reply, 'XINFO CONSUMERS').map((item) => {
    const values = fieldMap(item, 'a consumer of XINFO CONSUMERS');
    return {
      name: asText(values.get('name'), 'the consumer name of XINFO CONSUMERS'),
      pending: asInteger(values.get('pending'), 'the pending count of XINFO CONSUMERS'),
      idleMs: asInteger(values.get('idle'), 'the idle time of XINFO CONSUMERS'),
    };
  });
}

function fieldMap(item: unknown, what: string): Map<string, unknown> {
  const fields = asArray(item, what);
  const values = new Map<string, unknown>();
  for (let i = 0; i + 1 < fields.length; i += 2)
    values.set(asText(fields[i], `a field name of ${what}`), fields[i + 1]);
  return values;
}
