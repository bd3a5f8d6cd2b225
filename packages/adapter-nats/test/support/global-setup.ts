import { connect } from 'nats';
import { NATS_URL } from './nats';

// Integration tests need the machine's NATS server with JetStream: fail at once, saying how to
// start it, rather than letting every test time out.
export default async function checkNats(): Promise<void> {
  let nc: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    nc = await connect({ servers: NATS_URL, timeout: 3_000, maxReconnectAttempts: 0 });
  } catch (error) {
    throw new Error(
      `NATS is not running on ${NATS_URL} (${(error as Error).message}). Start it with \`bash tools/services.sh\` (nats-server -js), or set NATS_URL.`,
    );
  }
  try {
    await nc.jetstreamManager({ timeout: 3_000 });
  } catch (error) {
    throw new Error(
      `NATS on ${NATS_URL} answers but JetStream is not enabled (${(error as Error).message}); start nats-server with -js (see tools/services.sh).`,
    );
  } finally {
    await nc.close();
  }
}
