import { connect, type NatsConnection } from 'nats';

/** The NATS server the integration tests use: the machine's shared one unless NATS_URL says otherwise. */
export const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';

/** A name no other test run uses: the server is shared with CI and other developers. */
export function uniqueName(label: string): string {
  return `${label}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
}

/** Deletes a stream (and with it every consumer on it), ignoring one that is already gone. */
export async function deleteStream(name: string, servers: string = NATS_URL): Promise<void> {
  const nc: NatsConnection = await connect({ servers, maxReconnectAttempts: 0 });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(name).catch(() => undefined);
  } finally {
    await nc.close();
  }
}
