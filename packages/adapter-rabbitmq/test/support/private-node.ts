import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@tidings/conformance';

const run = promisify(execFile);

/**
 * Where the RabbitMQ scripts are, unwrapped: Debian's `/usr/sbin/rabbitmq-server` switches to the
 * `rabbitmq` user, whose environment would not carry the private node's settings.
 */
const SBIN = process.env.RABBITMQ_SBIN ?? '/usr/lib/rabbitmq/bin';

/** The Erlang cookie of the machine's nodes, so that `rabbitmqctl` reaches the private one too. */
const COOKIE_HOME = process.env.RABBITMQ_COOKIE_HOME ?? '/var/lib/rabbitmq';

/**
 * A RabbitMQ node of a test's own, for what must not be done to the shared broker (changing its
 * limits, restarting it): its own node name, ports, data and log directories and configuration,
 * stopped and deleted by {@link PrivateNode.stop}.
 */
export class PrivateNode {
  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** `amqp://guest:guest@127.0.0.1:<port>` (guest may log in over loopback). */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Starts a node and waits until it accepts connections (a few seconds). */
  static async start(label: string): Promise<PrivateNode> {
    const server = join(SBIN, 'rabbitmq-server');
    if (!existsSync(server)) {
      throw new Error(
        `${server} not found: the private RabbitMQ node needs the RabbitMQ server scripts (set RABBITMQ_SBIN to their directory)`,
      );
    }
    const dir = await mkdtemp(join(tmpdir(), `tidings-rabbitmq-${label}-`));
    const [port, distPort] = [await freePort(), await freePort()];
    const name = `tidings-${label}-${process.pid}-${port}@localhost`;
    await writeFile(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\n`);
    await writeFile(join(dir, 'enabled_plugins'), '[].\n');
    // An empty environment file: the machine's one names the shared node.
    await writeFile(join(dir, 'rabbitmq-env.conf'), '');
    const node = new PrivateNode(name, port, dir);
    await run(server, ['-detached'], { env: node.env(distPort), cwd: dir, timeout: 30_000 });
    try {
      await node.ctl('wait', join(dir, 'pid'), '--timeout', '60');
    } catch (error) {
      const log = await readFile(join(dir, 'log', `${name}.log`), 'utf8').catch(() => '(no log)');
      await node.stop();
      throw new Error(
        `the private RabbitMQ node did not start: ${(error as Error).message}\n${log.slice(-2_000)}`,
        {
          cause: error,
        },
      );
    }
    return node;
  }

  /** Runs `rabbitmqctl` against this node. */
  async ctl(...args: string[]): Promise<string> {
    const { stdout } = await run(join(SBIN, 'rabbitmqctl'), ['-n', this.name, ...args], {
      env: { ...process.env, HOME: COOKIE_HOME },
      timeout: 70_000,
    });
    return stdout;
  }

  /** Evaluates an Erlang expression on the node (to change a setting at run time). */
  eval(expression: string): Promise<string> {
    return this.ctl('eval', expression);
  }

  /** Stops the node and deletes its directory. */
  async stop(): Promise<void> {
    try {
      await this.ctl('stop', join(this.dir, 'pid'));
    } catch {
      // Not running (it failed to start); its files go all the same.
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  private env(distPort: number): NodeJS.ProcessEnv {
    const { dir } = this;
    return {
      ...process.env,
      HOME: COOKIE_HOME,
      RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
      RABBITMQ_NODENAME: this.name,
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_PID_FILE: join(dir, 'pid'),
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
  }
}
