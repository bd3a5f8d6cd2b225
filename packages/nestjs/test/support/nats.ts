import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNatsAdapter, type NatsAdapter } from '@tidings/adapter-nats';
import { freePort } from '@tidings/conformance';
import { connect } from 'nats';

/** The machine's shared NATS server (with JetStream), unless NATS_URL says otherwise. */
export const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';

/** An adapter on a subject prefix and stream of the caller's own, so that runs never meet. */
export function natsAdapter(prefix: string, servers: string = NATS_URL): NatsAdapter {
  return createNatsAdapter({
    servers,
    prefix,
    stream: { name: prefix.toUpperCase(), maxAgeMs: 3_600_000 },
    connectionOptions: { reconnectTimeWait: 200 },
  });
}

/** Fails, saying how to start it, when the shared NATS server does not answer. */
export async function requireNats(): Promise<void> {
  try {
    const connection = await connect({ servers: NATS_URL, timeout: 3_000, maxReconnectAttempts: 0 });
    await connection.close();
  } catch (error) {
    throw new Error(
      `NATS is not running on ${NATS_URL} (${(error as Error).message}). Start it with \`bash tools/services.sh\` (nats-server -js), or set NATS_URL.`,
    );
  }
}

/** Deletes the stream of a prefix (and its consumers); one already gone is fine. */
export async function deleteStream(prefix: string, servers: string = NATS_URL): Promise<void> {
  const connection = await connect({ servers, maxReconnectAttempts: 0 });
  try {
    const manager = await connection.jetstreamManager();
    await manager.streams.delete(prefix.toUpperCase()).catch(() => undefined);
  } finally {
    await connection.close();
  }
}

const BINARY = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/**
 * A nats-server of the test's own (free port, temporary store) that it may stop and start again:
 * outages are never made on the shared server.
 */
export class PrivateNatsServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly storeDir: string,
  ) {}

  static async start(): Promise<PrivateNatsServer> {
    const server = new PrivateNatsServer(
      await freePort(),
      await mkdtemp(join(tmpdir(), 'tidings-nest-nats-')),
    );
    await server.resume();
    return server;
  }

  get url(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the server (same port, same store); resolves once it takes clients. */
  async resume(): Promise<void> {
    const child = spawn(BINARY, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`nats-server exited with ${String(code)} before it was ready:\n${log}`));
      child.once('error', (error) => reject(new Error(`cannot start ${BINARY}: ${error.message}`)));
      child.once('exit', onExit);
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        log += chunk;
        if (log.includes('Server is ready')) {
          child.off('exit', onExit);
          resolve();
        }
      });
    });
  }

  /** Stops the server and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.storeDir, { recursive: true, force: true });
  }
}
