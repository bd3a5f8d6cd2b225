import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a Redis server that passes commands on at once and holds the server's
 * replies for `holdMs`, then hands them over in one write: replies to commands sent within that
 * window reach the client together, as they do when a busy process reads its socket late.
 */
export class BatchingProxy {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private port = 0;

  private constructor(
    private readonly target: URL,
    private readonly holdMs: number,
  ) {
    this.server = createServer((client) => this.relay(client));
  }

  /** Starts a proxy to `target` (a `redis://host:port` URL) on a free loopback port. */
  static async start(target: string, holdMs: number): Promise<BatchingProxy> {
    const proxy = new BatchingProxy(new URL(target), holdMs);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
    proxy.port = address.port;
    return proxy;
  }

  /** The URL to connect to instead of the target's. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    const upstream = connect(Number(this.target.port), this.target.hostname);
    this.sockets.add(client).add(upstream);
    let held: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    upstream.on('data', (chunk: Buffer) => {
      held.push(chunk);
      timer ??= setTimeout(() => {
        timer = undefined;
        const replies = Buffer.concat(held);
        held = [];
        if (!client.destroyed) client.write(replies);
      }, this.holdMs);
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const end = (): void => {
      clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) socket.on('close', end).on('error', end);
  }
}
