import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '@tidings/core';
import { type ConsoleOptions, resolveConsoleOptions } from './options';
import { type ConsoleHandler, createConsoleHandler } from './server/handler';

const LOOPBACK = new Set(['127.0.0.1', '::1']);

/**
 * Settings of {@link startConsole}: the console's, and where to listen.
 *
 * @example
 * ```ts
 * const options: StartConsoleOptions = { adapter, events: [OrderPlaced], port: 4180 };
 * ```
 */
export interface StartConsoleOptions extends ConsoleOptions {
  /** Default 0: a free port (read it from `url`). */
  readonly port?: number;
  /** Default `127.0.0.1`: the console is not reachable from other machines unless asked. */
  readonly host?: string;
}

/**
 * A console listening on its own HTTP server.
 *
 * @example
 * ```ts
 * const running: RunningConsole = await startConsole({ adapter });
 * console.log(running.url);
 * ```
 */
export interface RunningConsole {
  /** The page's address, e.g. `http://127.0.0.1:4180/`. */
  readonly url: string;
  /** Ends the live streams and stops the server; the adapter is left open. */
  close(): Promise<void>;
}

/**
 * Serves the console on its own HTTP server (`tidings console` runs this).
 *
 * @example
 * ```ts
 * import { startConsole } from '@tidings/console';
 *
 * const consoleServer = await startConsole({ adapter, events: contracts, subscriptions, port: 4180 });
 * console.log(`console at ${consoleServer.url}`);
 * // later
 * await consoleServer.close();
 * ```
 */
export async function startConsole(options: StartConsoleOptions): Promise<RunningConsole> {
  const { port = 0, host = '127.0.0.1', ...rest } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError('port', `${port} is not a TCP port (0 to 65535)`);
  }
  // Checked before listening, so that a bad option leaves no server behind.
  resolveConsoleOptions(rest);
  // The handler is made once the port is known: on a loopback address it accepts only the
  // loopback names as Host (DNS rebinding), unless the caller listed its own.
  let handler: ConsoleHandler | undefined;
  const server = createServer((req, res) => handler!(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  handler = createConsoleHandler({
    ...rest,
    ...(rest.allowedHosts === undefined && LOOPBACK.has(address.address)
      ? { allowedHosts: ['127.0.0.1', 'localhost', '[::1]'].map((name) => `${name}:${address.port}`) }
      : {}),
  });
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const base = rest.basePath === undefined ? '' : rest.basePath.replace(/\/+$/, '');
  return {
    url: `http://${shown}:${address.port}${base}/`,
    async close() {
      await handler?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
