import type { BrokerAdapter, Settlement } from '../adapters/contract';
import { DEAD_LETTER_HEADERS } from '../adapters/contract';
import { checkOptionNames, type OptionNames } from '../adapters/kit/option-names';
import {
  type DeadLetterLocation,
  type DeadLetterStore,
  type HistoryReplay,
  hasDeadLetterStore,
  hasHistoryReplay,
  type RedriveOutcome,
  type ReplayFrom,
  type StoredDeadLetter,
} from '../adapters/operations';
import { administersGroups, type GroupAdmin, type GroupDescription } from '../adapters/optional';
import type { AnyEventContract } from '../contracts/define-event';
import { type Codec, jsonCodec } from '../envelope/codec';
import { decodeEnvelope, type Envelope } from '../envelope/envelope';
import { CapabilityUnavailableError, ConfigError, DeadLetterNotFoundError, toError } from '../errors';
import { whenAborted } from '../internal/abort';
import { type DeadLetterTopicNamer, defaultDeadLetterTopic } from '../policies/dead-letter';

import type {
  BrowseOptions,
  DeadLetter,
  DeadLetterListPage,
  DeadLetterSelection,
  DecodedRecord,
  FollowedRecord,
  Following,
  FollowOptions,
  Operator,
  OperatorOptions,
  PurgeOptions,
  RecordToDecode,
  RedriveOptions,
  RedriveReport,
} from './types';
import { FOLLOW_GROUP_PREFIX } from './types';

const OPERATOR_OPTION_NAMES: OptionNames<OperatorOptions> = {
  adapter: true,
  events: true,
  codecs: true,
  deadLetterTopic: true,
};

const DEFAULT_PAGE = 100;
const DEFAULT_RATE = 500;
const ACK: Settlement = { type: 'ack' };

class OperatorImpl implements Operator {
  readonly supports: Operator['supports'];
  private readonly adapter: BrokerAdapter;
  private readonly contracts: ReadonlyMap<string, AnyEventContract>;
  private readonly codecs: ReadonlyMap<string, Codec>;
  private readonly defaultCodec: Codec;
  private readonly namer: DeadLetterTopicNamer;

  constructor(options: OperatorOptions) {
    checkOptionNames(options, OPERATOR_OPTION_NAMES);
    if (options.adapter === undefined || options.adapter === null) {
      throw new ConfigError('adapter', 'an adapter is required');
    }
    this.adapter = options.adapter;
    const codecs = options.codecs ?? [jsonCodec];
    if (codecs.length === 0) throw new ConfigError('codecs', 'at least one codec is required');
    this.defaultCodec = codecs[0]!;
    this.codecs = new Map(codecs.map((codec) => [codec.contentType.toLowerCase(), codec]));
    this.contracts = new Map((options.events ?? []).map((contract) => [contract.type, contract]));
    this.namer = options.deadLetterTopic ?? defaultDeadLetterTopic;
    const declared = this.adapter.capabilities.operations;
    const missing = `the ${this.adapter.name} adapter declares no such operation`;
    this.supports = {
      deadLetters: hasDeadLetterStore(this.adapter)
        ? (declared?.deadLetters ?? true)
        : (declared?.deadLetters ?? missing),
      replay: hasHistoryReplay(this.adapter) ? (declared?.replay ?? true) : (declared?.replay ?? missing),
      groups: administersGroups(this.adapter)
        ? true
        : `the ${this.adapter.name} adapter does not list or delete consumer groups (GroupAdmin)`,
    };
  }

  async *browse(selection: DeadLetterSelection, options: BrowseOptions = {}): AsyncIterable<DeadLetter> {
    const { store, at, match } = this.prepare(selection);
    const pageSize = pageSizeOf(options.pageSize);
    let cursor: string | undefined;
    do {
      if (options.signal?.aborted) return;
      const page = await store.readDeadLetters(at, cursor, pageSize);
      for (const stored of page.letters) {
        const letter = this.show(at, stored);
        if (match(letter)) yield letter;
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  async page(
    selection: DeadLetterSelection,
    options: BrowseOptions & { readonly cursor?: string | undefined; readonly limit?: number } = {},
  ): Promise<DeadLetterListPage> {
    const { store, at, match } = this.prepare(selection);
    const limit = pageSizeOf(options.limit, 'limit');
    const pageSize = pageSizeOf(options.pageSize);
    const letters: DeadLetter[] = [];
    let cursor = options.cursor;
    for (;;) {
      if (options.signal?.aborted) return { letters, cursor };
      const page = await store.readDeadLetters(at, cursor, pageSize);
      for (const stored of page.letters) {
        // A letter's id is the cursor that reads on after it (see DeadLetterStore).
        cursor = stored.id;
        const letter = this.show(at, stored);
        if (!match(letter)) continue;
        letters.push(letter);
        if (letters.length === limit) {
          const last = stored === page.letters.at(-1) && page.cursor === undefined;
          return { letters, cursor: last ? undefined : cursor };
        }
      }
      if (page.cursor === undefined) return { letters, cursor: undefined };
      cursor = page.cursor;
    }
  }

  async deadLetter(at: Pick<DeadLetterSelection, 'topic' | 'group'>, id: string): Promise<DeadLetter> {
    for await (const letter of this.browse({ topic: at.topic, group: at.group, ids: [id] })) return letter;
    throw new DeadLetterNotFoundError(id, `"${this.namer(at.topic, at.group)}"`);
  }

  async redrive(selection: DeadLetterSelection, options: RedriveOptions = {}): Promise<RedriveReport> {
    const { store, at, match } = this.prepare(selection);
    const rate = options.ratePerSecond ?? DEFAULT_RATE;
    if (!(rate > 0)) throw new ConfigError('ratePerSecond', `must be a positive number, got ${String(rate)}`);
    const batchSize = Math.max(1, Math.min(pageSizeOf(options.batchSize, 'batchSize'), Math.floor(rate)));
    const { signal } = options;
    const started = performance.now();
    let redriven = 0;
    let missing = 0;
    let asked = 0;
    const refused: { id: string; reason: string }[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.readDeadLetters(at, cursor, batchSize);
      const ids = page.letters.filter((stored) => match(this.show(at, stored))).map((stored) => stored.id);
      // Paced by the letters asked for so far: `rate` per second on average, from the start.
      const due = started + (asked * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0 && ids.length > 0) await pause(wait, signal);
      if (signal?.aborted) return { redriven, missing, refused, aborted: true };
      if (ids.length > 0) {
        asked += ids.length;
        const outcomes: readonly RedriveOutcome[] = await store.redriveDeadLetters(at, ids);
        for (const outcome of outcomes) {
          if (outcome.status === 'redriven') redriven++;
          else if (outcome.status === 'missing') missing++;
          else refused.push({ id: outcome.id, reason: outcome.reason ?? 'refused by the broker' });
        }
        options.onProgress?.({ redriven, missing, refused: refused.length });
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    return { redriven, missing, refused, aborted: false };
  }

  async purge(selection: DeadLetterSelection, options: PurgeOptions = {}): Promise<number> {
    const { store, at, match } = this.prepare(selection);
    const pageSize = pageSizeOf(options.pageSize);
    let deleted = 0;
    let cursor: string | undefined;
    do {
      if (options.signal?.aborted) return deleted;
      const page = await store.readDeadLetters(at, cursor, pageSize);
      const ids = page.letters.filter((stored) => match(this.show(at, stored))).map((stored) => stored.id);
      if (ids.length > 0) {
        deleted += await store.deleteDeadLetters(at, ids);
        options.onProgress?.(deleted);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    return deleted;
  }

  async groups(topics: readonly string[]): Promise<readonly GroupDescription[]> {
    const admin = this.groupAdmin();
    for (const [i, topic] of topics.entries()) checkName(`topics[${i}]`, topic);
    return admin.describeGroups(topics);
  }

  async deleteGroup(topic: string, group: string): Promise<boolean> {
    const admin = this.groupAdmin();
    checkName('topic', topic);
    checkName('group', group);
    return admin.deleteGroup(topic, group);
  }

  private groupAdmin(): GroupAdmin {
    const support = this.supports.groups;
    if (support !== true || !administersGroups(this.adapter)) {
      throw new CapabilityUnavailableError('groups', String(support));
    }
    return this.adapter;
  }

  async replay(topic: string, group: string, from: ReplayFrom): Promise<void> {
    const replayer = this.replayer();
    checkName('topic', topic);
    checkName('group', group);
    if (from === null || typeof from !== 'object' || (!('time' in from) && !('position' in from))) {
      throw new ConfigError('from', 'must be { time: Date } or { position: string }');
    }
    if ('time' in from && !(from.time instanceof Date && !Number.isNaN(from.time.getTime()))) {
      throw new ConfigError('from.time', 'must be a valid Date');
    }
    await replayer.replayHistory(topic, group, from);
  }

  private replayer(): HistoryReplay {
    const support = this.supports.replay;
    if (support !== true || !hasHistoryReplay(this.adapter)) {
      throw new CapabilityUnavailableError(
        'replay',
        `the ${this.adapter.name} adapter cannot replay history: ${support === true ? 'it does not implement HistoryReplay' : support}`,
      );
    }
    return this.adapter;
  }

  private prepare(selection: DeadLetterSelection): {
    store: DeadLetterStore;
    at: DeadLetterLocation;
    match: (letter: DeadLetter) => boolean;
  } {
    const support = this.supports.deadLetters;
    if (support !== true || !hasDeadLetterStore(this.adapter)) {
      throw new CapabilityUnavailableError(
        'deadLetters',
        `the ${this.adapter.name} adapter cannot list or change its dead letters: ${support === true ? 'it does not implement DeadLetterStore' : support}`,
      );
    }
    checkName('selection.topic', selection.topic);
    checkName('selection.group', selection.group);
    const at: DeadLetterLocation = {
      topic: selection.topic,
      group: selection.group,
      deadLetterTopic: this.namer(selection.topic, selection.group),
    };
    return { store: this.adapter, at, match: matcher(selection) };
  }

  async follow(
    topic: string,
    onRecord: (followed: FollowedRecord) => void | Promise<void>,
    options: FollowOptions = {},
  ): Promise<Following> {
    checkName('topic', topic);
    const random = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) =>
      b.toString(16).padStart(2, '0'),
    ).join('');
    const label = options.label === undefined ? '' : `${options.label.replace(/[^A-Za-z0-9_-]/g, '-')}-`;
    const group = `${FOLLOW_GROUP_PREFIX}${label}${random}`;
    // The adapter contract: connect once before subscribing (some adapters connect lazily).
    await this.adapter.connect();
    const subscription = await this.adapter.subscribe(
      {
        group,
        topics: [topic],
        concurrency: 1,
        // A tail shows records as they come: nothing to gain from holding more.
        prefetch: 1,
        ordering: 'none',
        startFrom: 'latest',
        maxAttempts: 1,
        handlerTimeoutMs: 0,
      },
      async (record) => {
        await onRecord({ record, ...this.decode(record) });
        return ACK;
      },
    );
    let stopped: Promise<true | string> | undefined;
    return {
      group,
      stop: () => {
        stopped ??= (async (): Promise<true | string> => {
          await subscription.close({ signal: AbortSignal.timeout(5_000) });
          const support = this.supports.groups;
          if (support !== true) return support;
          try {
            await this.deleteGroup(topic, group);
            return true;
          } catch (error) {
            return toError(error).message;
          }
        })();
        return stopped;
      },
    };
  }

  decode(record: RecordToDecode): DecodedRecord {
    let envelope: Envelope | undefined;
    let decodeError: Error | undefined;
    try {
      const decoded = decodeEnvelope(
        { topic: record.topic, key: record.key, headers: record.headers, body: record.body },
        {
          prefix: this.adapter.capabilities.headerPrefix,
          contentTypeHeader: this.adapter.capabilities.contentTypeHeader,
          codecs: this.codecs,
          defaultCodec: this.defaultCodec,
        },
      );
      const contract = this.contracts.get(decoded.type);
      envelope =
        contract === undefined
          ? decoded
          : {
              ...decoded,
              data: contract.upcast(decoded.data, decoded.eventversion),
              eventversion: contract.version,
            };
    } catch (error) {
      decodeError = toError(error);
    }
    return { envelope, decodeError };
  }

  private show(at: DeadLetterLocation, stored: StoredDeadLetter): DeadLetter {
    const { headers } = stored;
    const { envelope, decodeError } = this.decode({ topic: at.topic, ...stored });
    const attempts = Number(headers[DEAD_LETTER_HEADERS.attempts]);
    const reduced = headers[DEAD_LETTER_HEADERS.reduced];
    return {
      id: stored.id,
      topic: at.topic,
      group: at.group,
      deadLetterTopic: at.deadLetterTopic,
      key: stored.key,
      headers,
      body: stored.body,
      failure: {
        reason: headers[DEAD_LETTER_HEADERS.reason],
        errorName: headers[DEAD_LETTER_HEADERS.errorName],
        errorMessage: headers[DEAD_LETTER_HEADERS.errorMessage],
        attempts: Number.isInteger(attempts) && attempts > 0 ? attempts : undefined,
        firstFailureAt: dateOf(headers[DEAD_LETTER_HEADERS.firstFailureAt]),
        lastFailureAt: dateOf(headers[DEAD_LETTER_HEADERS.lastFailureAt]),
        originalPosition: headers[DEAD_LETTER_HEADERS.originalPosition],
        reduced: reduced === undefined || reduced === '' ? [] : reduced.split(','),
      },
      envelope,
      decodeError,
    };
  }
}

function matcher(selection: DeadLetterSelection): (letter: DeadLetter) => boolean {
  const ids = selection.ids === undefined ? undefined : new Set(selection.ids);
  const types =
    selection.type === undefined
      ? undefined
      : new Set(typeof selection.type === 'string' ? [selection.type] : selection.type);
  const { reason, since, until } = selection;
  for (const [field, value] of [
    ['selection.since', since],
    ['selection.until', until],
  ] as const) {
    if (value !== undefined && !(value instanceof Date && !Number.isNaN(value.getTime()))) {
      throw new ConfigError(field, 'must be a valid Date');
    }
  }
  return (letter) => {
    if (ids !== undefined && !ids.has(letter.id)) return false;
    if (types !== undefined && (letter.envelope === undefined || !types.has(letter.envelope.type)))
      return false;
    if (reason !== undefined) {
      const text = letter.failure.reason ?? '';
      if (typeof reason === 'string' ? !text.includes(reason) : !reason.test(text)) return false;
    }
    if (since !== undefined || until !== undefined) {
      const at = letter.failure.lastFailureAt?.getTime();
      if (at === undefined) return false;
      if (since !== undefined && at < since.getTime()) return false;
      if (until !== undefined && at >= until.getTime()) return false;
    }
    return true;
  };
}

function dateOf(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function pageSizeOf(value: number | undefined, field = 'pageSize'): number {
  if (value === undefined) return DEFAULT_PAGE;
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(field, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function checkName(field: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') throw new ConfigError(field, 'must be a non-empty string');
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (signal !== undefined) {
      void whenAborted(signal).then(() => {
        clearTimeout(timer);
        resolve();
      });
    }
  });
}

/**
 * Creates the operator of a broker's dead letters and history: browse dead letters with their
 * failure metadata and decoded envelope, redrive them to the failed consumer group only, purge
 * them, and replay a topic's retained history to one group. It works over any adapter that
 * implements the optional `DeadLetterStore` / `HistoryReplay` interfaces; `operator.supports` says
 * what this one can do, and an operation it cannot do rejects with a `CapabilityUnavailableError`.
 *
 * @example
 * ```ts
 * import { createOperator } from '@tidings/core';
 *
 * const operator = createOperator({ adapter, events: [OrderPlaced] });
 * for await (const letter of operator.browse({ topic: 'order.placed', group: 'billing', reason: 'ValidationError' })) {
 *   console.log(letter.id, letter.failure.attempts, letter.envelope?.data);
 * }
 * const report = await operator.redrive({ topic: 'order.placed', group: 'billing' }, { ratePerSecond: 100 });
 * console.log(`${report.redriven} redriven`);
 * await operator.replay('order.placed', 'search-index', { time: new Date('2026-12-01T00:00:00Z') });
 * ```
 */
export function createOperator(options: OperatorOptions): Operator {
  return new OperatorImpl(options);
}
