import { type AddressInfo, createServer, type Server } from 'node:net';

/**
 * Loopback ports nothing listens on now, all different: for a private broker a test starts (a
 * node to restart, one with a password or a tiny limit) and for a closed port to fail against.
 * They are free when asked; take them at once.
 *
 * @example
 * ```ts
 * const [client, cluster] = await freePorts(2);
 * spawn('nats-server', ['-p', String(client), '--cluster', `nats://127.0.0.1:${cluster}`]);
 * ```
 */
export async function freePorts(count: number): Promise<number[]> {
  // All held open at once, so that the system cannot hand out the same port twice.
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** One free loopback port (see {@link freePorts}). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}
