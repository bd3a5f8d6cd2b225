import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { NatsAdapter } from '../../src/index';
import { NATS_URL } from './nats';

/** What {@link natsFixture} gives a test file. */
export interface NatsFixture {
  /** A plain nats.js connection, to look at the wire and the server as an outsider. */
  readonly raw: () => NatsConnection;
  /** Connects an adapter and closes it after the test. */
  readonly open: <T extends NatsAdapter>(adapter: T) => Promise<T>;
}

/**
 * Registers the hooks of a test file on the shared server: a raw connection for the file, every
 * adapter a test opens closed after it, and `cleanup` (deleting what the file made) at the end.
 */
export function natsFixture(cleanup: () => Promise<void> = async () => undefined): NatsFixture {
  let raw: NatsConnection | undefined;
  const opened: NatsAdapter[] = [];
  beforeAll(async () => {
    raw = await connect({ servers: NATS_URL });
  });
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((a) => a.close({ signal: AbortSignal.timeout(3_000) })));
  });
  afterAll(async () => {
    await raw?.close();
    await cleanup();
  });
  return {
    raw: () => raw!,
    open: async (adapter) => {
      opened.push(adapter);
      await adapter.connect();
      return adapter;
    },
  };
}
