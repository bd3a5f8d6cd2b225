// The setups the end-to-end test runs the app on: the in-memory broker, and each real broker on
// this machine. A setup whose service is not running fails its tests with the command that starts
// it; it never skips.
import { randomBytes } from 'node:crypto';
import type { BrokerConfig, BrokerKind } from '../../src/config';

/** A name no other run on the shared servers uses. */
export function uniqueName(label: string): string {
  return `${label}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** How to reach one broker from a test, check it is there, and remove what a run left on it. */
export interface BrokerEnvironment {
  readonly kind: BrokerKind;
  /** The broker settings of one isolated run. */
  config(namespace: string): BrokerConfig;
  /** Rejects with how to start the broker when it does not answer. */
  check(): Promise<void>;
  /** Deletes what a run in `namespace` created. */
  cleanup(namespace: string): Promise<void>;
}

const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';

export const brokerEnvironments: Readonly<Record<BrokerKind, BrokerEnvironment>> = {
  memory: {
    kind: 'memory',
    config: () => ({ kind: 'memory' }),
    check: async () => undefined,
    cleanup: async () => undefined,
  },
  nats: {
    kind: 'nats',
    config: (namespace) => ({ kind: 'nats', url: NATS_URL, namespace }),
    async check() {
      const { connect } = await import('nats');
      try {
        const nc = await connect({ servers: NATS_URL, timeout: 3_000, maxReconnectAttempts: 0 });
        try {
          await nc.jetstreamManager({ timeout: 3_000 });
        } finally {
          await nc.close();
        }
      } catch (error) {
        throw new Error(
          `NATS with JetStream is not answering on ${NATS_URL} (${(error as Error).message}). ` +
            'Start it with `bash tools/services.sh`, or set NATS_URL.',
        );
      }
    },
    async cleanup(namespace) {
      const { connect } = await import('nats');
      const nc = await connect({ servers: NATS_URL, maxReconnectAttempts: 0 });
      try {
        const jsm = await nc.jetstreamManager();
        // The adapter names its stream after the prefix, upper-cased.
        await jsm.streams.delete(namespace.toUpperCase().replace(/[^A-Z0-9_-]/g, '_')).catch(() => undefined);
      } finally {
        await nc.close();
      }
    },
  },
};
