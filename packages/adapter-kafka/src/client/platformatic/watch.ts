import type { ConnectionWatcher } from '../client';

/**
 * How a platformatic client tells the adapter's connection monitor that a connection is lost.
 *
 * @module
 */

/** @internal A platformatic client whose sockets report their failures to the connection monitor. */
export interface EventSource {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * @internal Reports a client's failed connection attempts to `monitor` as a lost connection; returns
 * the function that stops it. platformatic forwards its connection pool's events as `client:broker:*`.
 * @example
 * const unwatch = watchConnections(admin, monitor);
 */
export function watchConnections(client: EventSource, monitor: Pick<ConnectionWatcher, 'lost'>): () => void {
  const failed = (payload: unknown) => {
    const broker = (payload as { broker?: { host?: string; port?: number } } | undefined)?.broker;
    const where = broker === undefined ? 'a broker' : `${broker.host}:${broker.port}`;
    monitor.lost(new Error(`kafka: cannot connect to ${where}`));
  };
  client.on('client:broker:failed', failed);
  return () => {
    client.removeListener('client:broker:failed', failed);
  };
}
