import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from 'amqplib';

const run = promisify(execFile);

/** The broker the tests use; the machine's RabbitMQ unless `RABBITMQ_URL` says otherwise. */
export const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** What to do when the broker is missing, for every failure message. */
export const START_HINT =
  'start it with `bash tools/services.sh` (or `rabbitmq-server -detached`), or point RABBITMQ_URL at a running broker';

/**
 * A name unique to this test run. Every queue and exchange the adapter declares starts with the
 * exchange name, so `deleteTopology` finds them all.
 */
export function uniqueName(label: string): string {
  return `tidings-test-${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

async function rabbitmqctl(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
    return stdout;
  } catch (error) {
    throw new Error(
      `rabbitmqctl ${args[0]} failed (${(error as Error).message.split('\n')[0]}); the RabbitMQ tests need rabbitmqctl on PATH, run as root on the broker's machine`,
      { cause: error },
    );
  }
}

/**
 * Makes the broker close every connection whose `connection_name` starts with `prefix`, as
 * `rabbitmqctl close_all_connections` would, but leaving other clients of the shared broker alone.
 * Resolves with the number of connections closed.
 */
export async function dropConnections(prefix: string): Promise<number> {
  const listing = await rabbitmqctl('list_connections', '--no-table-headers', 'pid', 'client_properties');
  const pids: string[] = [];
  for (const line of listing.split('\n')) {
    const match = /^(<[^>]+>)\t.*\{"connection_name","([^"]*)"\}/.exec(line);
    if (match !== null && match[2]!.startsWith(prefix)) pids.push(match[1]!);
  }
  await Promise.all(
    pids.map((pid) => rabbitmqctl('close_connection', pid, 'tidings test: dropped on purpose')),
  );
  return pids.length;
}

/**
 * The processes of the confirm channels open on connections whose `connection_name` starts with
 * `prefix`: a channel that is replaced shows as another process, whichever number it reuses.
 */
export async function confirmChannels(prefix: string): Promise<string[]> {
  const connections = await rabbitmqctl('list_connections', '--no-table-headers', 'pid', 'client_properties');
  const ours = new Set<string>();
  for (const line of connections.split('\n')) {
    const match = /^(<[^>]+>)\t.*\{"connection_name","([^"]*)"\}/.exec(line);
    if (match !== null && match[2]!.startsWith(prefix)) ours.add(match[1]!);
  }
  const channels = await rabbitmqctl('list_channels', '--no-table-headers', 'pid', 'connection', 'confirm');
  return channels
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(
      ([pid, connection, confirm]) => pid !== undefined && ours.has(connection ?? '') && confirm === 'true',
    )
    .map(([pid]) => pid!);
}

/** Deletes every queue and exchange whose name starts with `exchange` (work, dead-letter and delay ones). */
export async function deleteTopology(exchange: string): Promise<void> {
  const [queues, exchanges] = await Promise.all([
    rabbitmqctl('list_queues', '--no-table-headers', 'name'),
    rabbitmqctl('list_exchanges', '--no-table-headers', 'name'),
  ]);
  const ours = (listing: string): string[] =>
    listing
      .split('\n')
      .map((line) => line.trim())
      .filter(
        (name) => name === exchange || name.startsWith(`${exchange}/`) || name.startsWith(`${exchange}.`),
      );
  const connection = await connect(RABBITMQ_URL);
  try {
    const channel = await connection.createChannel();
    for (const queue of ours(queues)) await channel.deleteQueue(queue);
    for (const name of ours(exchanges)) await channel.deleteExchange(name);
    await channel.close();
  } finally {
    await connection.close();
  }
}

/** Names of the queues that start with `prefix`. */
export async function listQueues(prefix: string): Promise<string[]> {
  const listing = await rabbitmqctl('list_queues', '--no-table-headers', 'name');
  return listing
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => name.startsWith(prefix));
}

/** Fails with a message that says what is missing and how to start it. */
export async function checkBroker(): Promise<void> {
  try {
    const connection = await connect(RABBITMQ_URL, { timeout: 5_000 });
    await connection.close();
  } catch (error) {
    throw new Error(
      `RabbitMQ is not reachable at ${RABBITMQ_URL.replace(/:[^:@/]*@/, ':***@')} (${(error as Error).message}); ${START_HINT}`,
      { cause: error },
    );
  }
  await rabbitmqctl('list_connections', '--no-table-headers', 'name');
}
