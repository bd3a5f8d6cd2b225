import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository's root, where tools/cluster/ lives. */
export const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** Where the cluster scripts keep their state (TIDINGS_CLUSTER_DIR moves it, as for the scripts). */
const CLUSTER_ROOT = process.env.TIDINGS_CLUSTER_DIR ?? join(REPO_ROOT, '.cache', 'cluster');

/** One node of a local cluster, as tools/cluster/<broker>.sh wrote it into state.json. */
export interface ClusterNode {
  readonly node: number;
  /** 0 when the node was down when the state was written. */
  readonly pid: number;
  /** The client port. */
  readonly port: number;
  readonly dir: string;
  /** NATS: the monitoring port. */
  readonly monitor?: number;
  /** RabbitMQ: the Erlang node name (`tidings-<id>-<N>@localhost`). */
  readonly name?: string;
}

/** A local cluster started by one of the scripts in tools/cluster/. */
export class LocalCluster {
  private constructor(
    readonly broker: 'nats' | 'kafka' | 'redis' | 'rabbitmq',
    readonly nodes: readonly ClusterNode[],
  ) {}

  /**
   * Reads the cluster's state.json; fails, saying how to start it, when the cluster is not running
   * (`npm run test:cluster` starts it).
   */
  static async open(broker: 'nats' | 'kafka' | 'redis' | 'rabbitmq'): Promise<LocalCluster> {
    const script = LocalCluster.script(broker);
    try {
      await run('bash', [script, 'status'], { cwd: REPO_ROOT });
    } catch (error) {
      throw new Error(
        `the local ${broker} cluster is not running (${(error as { stdout?: string }).stdout?.trim() ?? String(error)}); start it with \`bash tools/cluster/${broker}.sh start\` or run \`npm run test:cluster\``,
      );
    }
    const state = JSON.parse(await readFile(join(CLUSTER_ROOT, broker, 'state.json'), 'utf8')) as {
      nodes: ClusterNode[];
    };
    return new LocalCluster(broker, state.nodes);
  }

  private static script(broker: string): string {
    return join(REPO_ROOT, 'tools', 'cluster', `${broker}.sh`);
  }

  /** `127.0.0.1:<port>` of every node. */
  get addresses(): string[] {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`);
  }

  /** Runs the cluster's script with `args` (RabbitMQ: `leader <queue>`, `ctl <rabbitmqctl args>`); resolves with its output. */
  async command(...args: string[]): Promise<string> {
    const { stdout } = await run('bash', [LocalCluster.script(this.broker), ...args], {
      cwd: REPO_ROOT,
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  }

  /** SIGKILL one node, as a crash (the script checks that the pid is the node's own). */
  async kill(node: number): Promise<void> {
    await run('bash', [LocalCluster.script(this.broker), 'kill', String(node)], { cwd: REPO_ROOT });
  }

  /** Starts the nodes that are down, on their ports and data; resolves once the cluster is ready again. */
  async restart(): Promise<void> {
    await run('bash', [LocalCluster.script(this.broker), 'start'], { cwd: REPO_ROOT, timeout: 180_000 });
  }
}

/**
 * The client addresses of a running cluster, read at once: for suites such as the conformance suite
 * that describe their tests when the file loads. Fails, saying how to start it, when the cluster
 * has no state yet.
 */
export function clusterAddresses(broker: 'nats' | 'kafka' | 'redis' | 'rabbitmq'): string[] {
  let text: string;
  try {
    text = readFileSync(join(CLUSTER_ROOT, broker, 'state.json'), 'utf8');
  } catch {
    throw new Error(
      `no local ${broker} cluster (no state.json); start it with \`bash tools/cluster/${broker}.sh start\` or run \`npm run test:cluster\``,
    );
  }
  return (JSON.parse(text) as { nodes: ClusterNode[] }).nodes.map((node) => `127.0.0.1:${node.port}`);
}
