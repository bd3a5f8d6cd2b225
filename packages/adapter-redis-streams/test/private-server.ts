import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@tidings/conformance';
import { Redis } from 'ioredis';

/** Settings of a {@link PrivateRedis}. */
export interface PrivateRedisOptions {
  /** The server's `requirepass`: connections must authenticate with it. */
  readonly password?: string;
  /** More `redis-server` arguments, such as `['--replicaof', '127.0.0.1', '6380']`. */
  readonly args?: readonly string[];
}

/**
 * A `redis-server` of the test's own, on a free port with a temporary directory, that the test
 * may crash, restart or reconfigure. It persists every write before answering: `appendonly yes`
 * and `appendfsync always`, no RDB snapshots.
 */
export class PrivateRedis {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly settings: PrivateRedisOptions,
  ) {}

  /** Starts a server; `redis-server` must be on the PATH. */
  static async start(settings: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const dir = await mkdtemp(join(tmpdir(), 'tidings-redis-'));
    const server = new PrivateRedis(await freePort(), dir, settings);
    await server.launch();
    return server;
  }

  /**
   * Starts a Sentinel (`redis-server <config> --sentinel`) that watches the primary at
   * `primaryPort` as `name`, with a quorum of one and a primary taken for down after 1 s.
   */
  static async startSentinel(name: string, primaryPort: number): Promise<PrivateRedis> {
    const dir = await mkdtemp(join(tmpdir(), 'tidings-sentinel-'));
    const port = await freePort();
    // Sentinel rewrites its configuration file, so it gets one of its own.
    await writeFile(
      join(dir, 'sentinel.conf'),
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 10000`,
        '',
      ].join('\n'),
    );
    const server = new PrivateRedis(port, dir, { args: ['--sentinel'] });
    server.config = join(dir, 'sentinel.conf');
    await server.launch();
    return server;
  }

  /** A Sentinel's configuration file, given to redis-server before the other arguments. */
  private config: string | undefined;

  /** The server's URL, with its password when it has one. */
  get url(): string {
    const { password } = this.settings;
    return password === undefined
      ? `redis://127.0.0.1:${this.port}`
      : `redis://:${encodeURIComponent(password)}@127.0.0.1:${this.port}`;
  }

  /** A plain connection to the server for the test's own commands (`CONFIG SET`); close it with `quit()`. */
  async admin(): Promise<Redis> {
    const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    await redis.connect();
    return redis;
  }

  /** Kills the server with SIGKILL, as a crash or a power cut would, and waits until it is gone. */
  async crash(): Promise<void> {
    const child = this.process;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    this.process = undefined;
  }

  /** Starts the server again on the same port and directory; it replays its append-only file. */
  restart(): Promise<void> {
    return this.launch();
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.crash();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        ...(this.config === undefined ? [] : [this.config]),
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        // A Sentinel refuses the persistence settings of a server.
        ...(this.config === undefined
          ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']
          : []),
        '--logfile',
        join(this.dir, 'redis.log'),
        ...(this.settings.password === undefined ? [] : ['--requirepass', this.settings.password]),
        ...(this.settings.args ?? []),
      ],
      { stdio: 'ignore' },
    );
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`cannot start redis-server: ${error.message}`)));
      child.once('exit', (code) =>
        reject(new Error(`redis-server exited at start (code ${code}); see ${this.dir}/redis.log`)),
      );
    });
    failed.catch(() => undefined);
    this.process = child;
    await Promise.race([answering(this.url, 15_000), failed]);
  }
}

/** Resolves once a server at `url` answers PING (and has finished loading its data). */
async function answering(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      await redis.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`redis-server at ${url} did not answer: ${(error as Error).message}`);
    } finally {
      redis.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
