import { appendFile, readFile } from 'node:fs/promises';
import { type BrokerAdapter, memoryCapabilities, type OutgoingRecord } from '@tidings/core';
import { ClosedError } from '@tidings/core/adapter';

/** A record as the journal keeps it. */
export interface JournalEntry {
  readonly topic: string;
  readonly key: string | undefined;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * A broker for the crash test with the in-memory adapter, which cannot outlive the relay process:
 * it appends every published record to a file before the publish resolves, so what a killed
 * process published stays there for the test to read. Publish only.
 */
export function createJournalAdapter(path: string): BrokerAdapter {
  let state: BrokerAdapter['state'] = 'idle';
  return {
    name: 'journal',
    capabilities: memoryCapabilities,
    get state() {
      return state;
    },
    async connect() {
      if (state === 'closed') throw new ClosedError('journal is closed');
      state = 'connected';
    },
    async publish(records: readonly OutgoingRecord[]) {
      if (state === 'closed') throw new ClosedError('journal is closed');
      const lines = records.map((r) =>
        JSON.stringify({
          topic: r.topic,
          key: r.key,
          headers: r.headers,
          body: Buffer.from(r.body).toString('utf8'),
        } satisfies JournalEntry),
      );
      await appendFile(path, `${lines.join('\n')}\n`);
    },
    async subscribe() {
      throw new Error('the journal adapter only records what is published');
    },
    async close() {
      state = 'closed';
    },
  };
}

/** Reads what the journal recorded, in order. */
export async function readJournal(path: string): Promise<JournalEntry[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as JournalEntry);
}
