import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePorts } from '@tidings/conformance';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const kafkaSh = path.join(repoRoot, 'tools/kafka/kafka.sh');
const log4j = path.join(repoRoot, 'tools/kafka/log4j.properties');

/** Settings of a {@link PrivateKafka}. */
export interface PrivateKafkaOptions {
  /**
   * Clients must log in with SASL PLAIN as one of these users (name → password): the client
   * listener is `SASL_PLAINTEXT`. Without it the listener is `PLAINTEXT`.
   */
  readonly saslUsers?: Readonly<Record<string, string>>;
  /**
   * Users who may log in with SCRAM-SHA-256 and SCRAM-SHA-512 too (name → password), beside
   * `saslUsers`. Their credentials live in the metadata log, so the storage is then formatted with
   * Kafka's StorageTool (one more JVM start, a few seconds).
   */
  readonly scramUsers?: Readonly<Record<string, string>>;
}

/**
 * A Kafka node of a test's own, from the jars tools/kafka/kafka.sh installs, on free loopback ports
 * with its own data directory: for tests that stop the broker, or need a configuration the shared
 * one must not get (SASL). One JVM, broker and KRaft controller, started in about 3–4 s on the
 * project's 2-core machine; a stop takes about 1.5 s.
 *
 * The storage is not formatted with Kafka's StorageTool (a JVM start of its own): the node gets a
 * `meta.properties` written here, and Kafka bootstraps an empty metadata log from its
 * configuration, as it logs ("the metadata log appears to be empty").
 */
export class PrivateKafka {
  private process: ChildProcess | undefined;
  private output = '';

  private constructor(
    private readonly dir: string,
    private readonly libs: string,
    readonly port: number,
  ) {}

  /** `host:port` of the node, for `brokers`. */
  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  /** Installs the jars if need be, writes the configuration and starts the node. */
  static async start(options: PrivateKafkaOptions = {}): Promise<PrivateKafka> {
    // Returns at once when the jars of tools/kafka/pom.xml are already there.
    await run('bash', [kafkaSh, 'install'], { timeout: 300_000 });
    const cache = path.resolve(repoRoot, process.env.KAFKA_CACHE_DIR ?? '.cache/kafka');
    const [port, controllerPort] = await freePorts(2);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tidings-kafka-'));
    await mkdir(path.join(dir, 'data'));
    await writeFile(path.join(dir, 'server.properties'), config(dir, port!, controllerPort!, options));
    // Kafka's storage tool reads an id starting with '-' as an option (1 in 64 ids): draw again, as
    // Kafka's own generator and tools/kafka/kafka.sh do.
    let clusterId = randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
    if (options.scramUsers === undefined) {
      await writeFile(
        path.join(dir, 'data', 'meta.properties'),
        `version=1\nnode.id=1\ncluster.id=${clusterId}\n`,
      );
    } else {
      const scram = Object.entries(options.scramUsers).flatMap(([name, password]) =>
        ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((mechanism) => [
          '--add-scram',
          `${mechanism}=[name=${name},password=${password}]`,
        ]),
      );
      await run(
        'java',
        [
          '-Xmx128m',
          '-XX:TieredStopAtLevel=1',
          `-Dlog4j.configuration=file:${log4j}`,
          '-cp',
          `${path.join(cache, 'libs')}/*`,
          'kafka.tools.StorageTool',
          'format',
          '-t',
          clusterId,
          '-c',
          path.join(dir, 'server.properties'),
          ...scram,
        ],
        { timeout: 120_000 },
      );
    }
    const kafka = new PrivateKafka(dir, path.join(cache, 'libs'), port!);
    try {
      await kafka.resume();
    } catch (error) {
      await kafka.dispose();
      throw error;
    }
    return kafka;
  }

  /** Starts the node again after {@link stop}, with the same data; resolves once it answers. */
  async resume(): Promise<void> {
    if (this.process !== undefined) return;
    this.output = '';
    const child = spawn(
      'java',
      [
        '-Xmx256m',
        '-Xms256m',
        '-XX:+UseSerialGC',
        // A test broker lives seconds: the quick compiler starts it sooner.
        '-XX:TieredStopAtLevel=1',
        '-Djava.awt.headless=true',
        `-Dlog4j.configuration=file:${log4j}`,
        `-Dkafka.logs.dir=${path.join(this.dir, 'logs')}`,
        '-cp',
        `${this.libs}/*`,
        'kafka.Kafka',
        path.join(this.dir, 'server.properties'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.process = child;
    // Never outlive the test run, whatever becomes of it.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => {
        if (this.process === child) this.process = undefined;
        reject(new Error(`the private Kafka node exited (${code}) while starting:\n${this.output}`));
      }),
    );
    exited.catch(() => undefined);
    await Promise.race([untilAnswers(this.port, 90_000), exited]);
  }

  /** Stops the node cleanly (SIGTERM; SIGKILL after 20 s); its data stays. */
  async stop(): Promise<void> {
    const child = this.process;
    if (child === undefined) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await gone;
    clearTimeout(timer);
    this.process = undefined;
  }

  /** Stops the node and deletes its data. */
  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function config(dir: string, port: number, controllerPort: number, options: PrivateKafkaOptions): string {
  const users = options.saslUsers;
  const protocol = users === undefined ? 'PLAINTEXT' : 'SASL_PLAINTEXT';
  const lines = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    'controller.listener.names=CONTROLLER',
    `listeners=${protocol}://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=${protocol}://127.0.0.1:${port}`,
    `inter.broker.listener.name=${protocol}`,
    `listener.security.protocol.map=${protocol}:${protocol},CONTROLLER:PLAINTEXT`,
    `log.dirs=${path.join(dir, 'data')}`,
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    'num.partitions=1',
    'num.network.threads=1',
    'num.io.threads=2',
    'num.recovery.threads.per.data.dir=1',
  ];
  if (users !== undefined) {
    // The node logs in to itself too (inter-broker listener), as a user of its own.
    const self = randomBytes(12).toString('hex');
    const accounts = Object.entries({ ...users, broker: self })
      .map(([name, password]) => `user_${name}="${password}"`)
      .join(' ');
    const scram = options.scramUsers === undefined ? [] : ['SCRAM-SHA-256', 'SCRAM-SHA-512'];
    lines.push(
      `sasl.enabled.mechanisms=${['PLAIN', ...scram].join(',')}`,
      'sasl.mechanism.inter.broker.protocol=PLAIN',
      `listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="${self}" ${accounts};`,
      ...scram.map(
        (mechanism) =>
          `listener.name.sasl_plaintext.${mechanism.toLowerCase()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Resolves once a Kafka node answers an ApiVersions request on `port` (as kafka.sh checks: an open
 * port is not enough, the node answers only once it has started). ApiVersions needs no login, so
 * this works on a SASL listener too.
 */
async function untilAnswers(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await answers(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the private Kafka node did not answer on port ${port} within ${timeoutMs} ms`);
}

// ApiVersions v0, correlation id 1, client id "probe".
const API_VERSIONS = Buffer.from([0, 0, 0, 15, 0, 18, 0, 0, 0, 0, 0, 1, 0, 5, ...Buffer.from('probe')]);

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write(API_VERSIONS));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      // Size, correlation id 1, error code 0.
      if (received.length >= 10) done(received.readInt32BE(4) === 1 && received.readInt16BE(8) === 0);
    });
  });
}
