import { type BrokerAdapter, createMemoryAdapter, createMemoryBroker } from '@tidings/core';
import { createJournalAdapter } from './journal-adapter';

/** A broker the outbox suite runs against. */
export interface BrokerFixture {
  /** Shown in test titles; also how the relay child process finds the broker (`brokerByName`). */
  readonly name: string;
  /** A new adapter on the broker under test, not connected yet. Every one reaches the same broker. */
  createAdapter(): BrokerAdapter;
  /** Whether an adapter made in another process reaches this broker (not the in-memory one). */
  readonly crossProcess: boolean;
  /** Fails, with what to do, when the broker is not running. */
  require?(): Promise<void>;
  /** Deletes what the suite made on the broker. */
  cleanup?(created: {
    readonly topics: readonly string[];
    readonly groups: readonly string[];
  }): Promise<void>;
}

/** The in-memory broker: one per test process, shared by every adapter the fixture makes. */
export function memoryFixture(): BrokerFixture {
  const broker = createMemoryBroker();
  return {
    name: 'memory',
    crossProcess: false,
    createAdapter: () => createMemoryAdapter({ broker }),
  };
}

/**
 * The broker a relay child process publishes to: `journal:<path>` for the file journal that
 * stands in for the in-memory broker, otherwise the name of a cross-process fixture.
 */
export function brokerByName(name: string): BrokerFixture {
  if (name.startsWith('journal:')) {
    const path = name.slice('journal:'.length);
    return { name: 'journal', crossProcess: true, createAdapter: () => createJournalAdapter(path) };
  }
  const fixture = crossProcessFixtures[name];
  if (fixture === undefined) throw new Error(`no broker fixture named ${name}`);
  return fixture();
}

/** Fixtures of real brokers, by name. */
export const crossProcessFixtures: Record<string, () => BrokerFixture> = {};
