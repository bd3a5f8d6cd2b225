import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from '@tidings/conformance';

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
    /** The management plugin's HTTP port, when the node was started with it. */
    readonly managementPort: number | undefined,
  ) {}

  /** `http://127.0.0.1:<port>/`, the management API without credentials, when the plugin is on. */
  get managementUrl(): string {
    if (this.managementPort === undefined) throw new Error(`${this.name} runs without the management plugin`);
    return `http://127.0.0.1:${this.managementPort}/`;
  }

  /** `amqp://guest:guest@127.0.0.1:<port>` (guest may log in over loopback). */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /**
   * Starts a node and waits until it accepts connections (a few seconds). With `management`, the
   * management plugin listens on a free port of its own, with statistics refreshed every 500 ms
   * (5 s by default) so that a test sees counts soon, and the start waits for its API too.
   */
  static async start(
    label: string,
    { management = false }: { management?: boolean } = {},
  ): Promise<PrivateNode> {
    const server = join(SBIN, 'rabbitmq-server');
    if (!existsSync(server)) {
      throw new Error(
        `${server} not found: the private RabbitMQ node needs the RabbitMQ server scripts (set RABBITMQ_SBIN to their directory)`,
      );
    }
    const dir = await mkdtemp(join(tmpdir(), `tidings-rabbitmq-${label}-`));
    const [port, distPort, managementPort] = await freePorts(3);
    const name = `tidings-${label}-${process.pid}-${port}@localhost`;
    const config = [`listeners.tcp.local = 127.0.0.1:${port}`];
    if (management) {
      config.push(
        `management.tcp.port = ${managementPort}`,
        'management.tcp.ip = 127.0.0.1',
        'collect_statistics_interval = 500',
      );
    }
    await writeFile(join(dir, 'rabbitmq.conf'), `${config.join('\n')}\n`);
    await writeFile(join(dir, 'enabled_plugins'), management ? '[rabbitmq_management].\n' : '[].\n');
    // A quorum queue reports its counts on its own tick (5 s by default), which no `.conf` key sets.
    await writeFile(
      join(dir, 'advanced.config'),
      management ? '[{rabbit, [{quorum_tick_interval, 500}]}].\n' : '[].\n',
    );
    // An empty environment file: the machine's one names the shared node.
    await writeFile(join(dir, 'rabbitmq-env.conf'), '');
    const node = new PrivateNode(name, port!, dir, management ? managementPort : undefined);
    await run(server, ['-detached'], { env: node.env(distPort!), cwd: dir, timeout: 30_000 });
    try {
      await node.ctl('wait', join(dir, 'pid'), '--timeout', '60');
      if (management) await node.managementAnswers(30_000);
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

  /** Waits until the management API answers guest's request (the plugin starts after the broker). */
  private async managementAnswers(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const response = await fetch(new URL('api/overview', this.managementUrl), {
          headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
          signal: AbortSignal.timeout(2_000),
        });
        await response.body?.cancel();
        if (response.ok) return;
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() > deadline)
        throw new Error(`the management API did not answer within ${timeoutMs} ms (${last})`);
      // Polling: the plugin announces its listener nowhere a test could wait on.
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
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
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_PID_FILE: join(dir, 'pid'),
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
  }
}
