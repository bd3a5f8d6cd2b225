import type { OutgoingRecord } from '../adapters/contract';
import { checkOptionNames, type OptionNames } from '../adapters/kit/option-names';
import type { Bus } from '../bus/options';
import type { BatchEntry, PublishedEvent, PublishOptions } from '../context/publish';
import type { AnyEventContract, EventInput } from '../contracts/define-event';
import { ConfigError, PublishError } from '../errors';
import { checkInteger } from '../internal/options';
import type { OutboxClaim, OutboxRecord, OutboxSettlement, OutboxStore, OutboxWatch } from './store';

/** Settings of {@link createMemoryOutbox}. */
export interface MemoryOutboxOptions {
  /** The bus whose contracts, codec and publish middleware encode the events. */
  readonly bus: Bus;
  /**
   * Most records waiting at once. A write that would exceed it fails with a `PublishError`
   * rather than let memory grow while the broker is down. Default 100,000.
   */
  readonly maxPending?: number;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

const MEMORY_OUTBOX_OPTION_NAMES: OptionNames<MemoryOutboxOptions> = {
  bus: true,
  maxPending: true,
  now: true,
};

/**
 * An outbox in process memory: writes return once the events are validated and queued, and a
 * relay publishes them, retrying while the broker is down. Nothing survives the process, so it
 * is no transactional outbox; it is for apps without a database, and it keeps the same API and
 * ordering as a database outbox so that one can replace it later.
 *
 * @example
 * ```ts
 * const outbox: MemoryOutbox = createMemoryOutbox({ bus });
 * await outbox.write(OrderPlaced, { orderId: 'o-1', total: 42, currency: 'EUR' });
 * console.log(outbox.size);
 * ```
 */
export interface MemoryOutbox extends OutboxStore {
  /** Validates and encodes one event through the bus and queues it. */
  write<TContract extends AnyEventContract>(
    contract: TContract,
    data: EventInput<TContract>,
    options?: PublishOptions,
  ): Promise<PublishedEvent>;
  /** Validates and encodes several events and queues them all, or none if one is invalid. */
  writeBatch(entries: readonly BatchEntry[]): Promise<PublishedEvent[]>;
  /** Calls `listener` after every write. */
  watch(listener: () => void): OutboxWatch;
  /** Records waiting, claimed ones included. */
  readonly size: number;
}

interface Entry {
  readonly id: string;
  readonly record: OutgoingRecord;
  readonly writtenAt: number;
  attempts: number;
  claimed: boolean;
}

class MemoryOutboxStore implements MemoryOutbox {
  readonly headerPrefix: string;
  private readonly bus: Bus;
  private readonly maxPending: number;
  private readonly now: () => number;
  // A Map iterates in insertion order and ids are never re-inserted, so this is write order.
  private readonly pending = new Map<string, Entry>();
  private readonly listeners = new Set<() => void>();
  private failedCount = 0;
  private nextId = 1;

  constructor(options: MemoryOutboxOptions) {
    checkOptionNames(options, MEMORY_OUTBOX_OPTION_NAMES);
    if (options?.bus === undefined || typeof options.bus.prepare !== 'function') {
      throw new ConfigError('bus', 'a bus is required to encode the events');
    }
    this.bus = options.bus;
    this.headerPrefix = options.bus.adapter.capabilities.headerPrefix;
    this.maxPending = checkInteger('maxPending', options.maxPending ?? 100_000, 1);
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.pending.size;
  }

  async write(contract: AnyEventContract, data: unknown, options?: PublishOptions): Promise<PublishedEvent> {
    const [event] = await this.writeBatch([
      options === undefined ? { contract, data } : { contract, data, options },
    ]);
    return event!;
  }

  async writeBatch(entries: readonly BatchEntry[]): Promise<PublishedEvent[]> {
    if (entries.length === 0) return [];
    const { records, events } = await this.bus.prepare(entries);
    if (this.pending.size + records.length > this.maxPending) {
      throw new PublishError(
        `memory outbox is full (${this.pending.size} events waiting, maxPending ${this.maxPending}): ` +
          'the relay is behind or the broker is down',
      );
    }
    const writtenAt = this.now();
    for (const record of records) {
      const id = String(this.nextId++);
      this.pending.set(id, { id, record, writtenAt, attempts: 0, claimed: false });
    }
    for (const listener of this.listeners) listener();
    return events;
  }

  async claim(limit: number): Promise<OutboxClaim | undefined> {
    const picked: Entry[] = [];
    // Keys with an older record that is claimed by someone else or left behind: their later
    // records must wait, or they would overtake it.
    const blocked = new Set<string>();
    for (const entry of this.pending.values()) {
      if (picked.length >= limit) break;
      const key = entry.record.key;
      if (entry.claimed || (key !== undefined && blocked.has(key))) {
        if (key !== undefined) blocked.add(key);
        continue;
      }
      picked.push(entry);
    }
    if (picked.length === 0) return undefined;
    for (const entry of picked) entry.claimed = true;
    let settled = false;
    return {
      records: picked.map(toOutboxRecord),
      settle: async (settlement: OutboxSettlement) => {
        if (settled) return;
        settled = true;
        this.settle(picked, settlement);
      },
    };
  }

  private settle(picked: readonly Entry[], settlement: OutboxSettlement): void {
    for (const id of settlement.sent) this.pending.delete(id);
    for (const { id } of settlement.failed ?? []) {
      if (this.pending.delete(id)) this.failedCount++;
    }
    for (const entry of picked) {
      if (!this.pending.has(entry.id)) continue;
      entry.claimed = false;
      if (settlement.error !== undefined) entry.attempts++;
    }
  }

  async stats() {
    const oldest = this.pending.values().next().value as Entry | undefined;
    return {
      pending: this.pending.size,
      failed: this.failedCount,
      lagMs: oldest === undefined ? 0 : Math.max(0, this.now() - oldest.writtenAt),
    };
  }

  watch(listener: () => void): OutboxWatch {
    this.listeners.add(listener);
    return {
      close: async () => {
        this.listeners.delete(listener);
      },
    };
  }
}

function toOutboxRecord(entry: Entry): OutboxRecord {
  return {
    id: entry.id,
    record: entry.record,
    writtenAt: new Date(entry.writtenAt),
    attempts: entry.attempts,
  };
}

/**
 * Creates an outbox in process memory, for apps without a database: `write` returns once the
 * event is validated and queued, and a relay ({@link createOutboxRelay}) publishes it, backing
 * off while the broker is down. Queued events are lost if the process dies; use a database
 * outbox (`@tidings/outbox-postgres`) where that matters.
 *
 * @example
 * ```ts
 * const bus = createBus({ source: 'order-service' });
 * const outbox = createMemoryOutbox({ bus });
 * const relay = createOutboxRelay({ store: outbox, bus });
 * await relay.start();
 * await outbox.write(OrderPlaced, { orderId: 'o-1', total: 42, currency: 'EUR' });
 * ```
 */
export function createMemoryOutbox(options: MemoryOutboxOptions): MemoryOutbox {
  return new MemoryOutboxStore(options);
}
