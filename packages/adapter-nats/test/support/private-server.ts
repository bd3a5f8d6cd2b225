import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@tidings/conformance';

/** The nats-server binary; the machine's, unless NATS_SERVER_BIN says otherwise. */
const BINARY = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

/**
 * A nats-server of one test's own, with JetStream and a temporary store directory, that the test
 * may stop and start again on the same port and store (the shared server must never be restarted).
 */
export class PrivateNatsServer {
  private process: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    private readonly args: readonly string[],
  ) {}

  /**
   * Starts a server on a free port with an empty store; `args` are further command-line options
   * (`--user u --pass p`, `--auth token`), kept for every restart.
   */
  static async start(args: readonly string[] = []): Promise<PrivateNatsServer> {
    const server = new PrivateNatsServer(
      await freePort(),
      await mkdtemp(join(tmpdir(), 'tidings-nats-')),
      args,
    );
    await server.resume();
    return server;
  }

  get url(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the server process again (same port, same store); resolves once it is ready for clients. */
  async resume(): Promise<void> {
    if (this.process !== undefined) throw new Error('the private nats-server is already running');
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir, ...this.args];
    const child = spawn(BINARY, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.process = child;
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`nats-server exited with ${String(code)} before it was ready:\n${this.log}`));
      child.once('error', (error) =>
        reject(new Error(`cannot start ${BINARY} (${error.message}); is nats-server installed?`)),
      );
      child.once('exit', onExit);
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        this.log += chunk;
        // The server says so once it accepts clients, JetStream included.
        if (this.log.includes('Server is ready')) {
          child.off('exit', onExit);
          resolve();
        }
      });
    });
  }

  /** Stops the server (SIGTERM: a clean shutdown that writes its state) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (child === undefined) return;
    this.process = undefined;
    this.log = '';
    if (child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  /** Stops the server and deletes its store. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.storeDir, { recursive: true, force: true });
  }
}
