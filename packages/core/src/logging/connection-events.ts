import type { ConnectionState } from '../adapters/types';
import type { SafeLogger } from './logger';

/**
 * An optional capability of an adapter: telling the bus when its connection state changes (a lost
 * connection, a reconnect, a final failure), so that the bus can log it with the adapter's name.
 * The listener is called after `adapter.state` changed; the returned function stops the calls.
 *
 * @example
 * ```ts
 * class MyAdapter implements BrokerAdapter, ConnectionStateReporter {
 *   private readonly listeners = new Set<(state: ConnectionState, error?: Error) => void>();
 *   onStateChange(listener: (state: ConnectionState, error?: Error) => void) {
 *     this.listeners.add(listener);
 *     return () => this.listeners.delete(listener);
 *   }
 *   // ...call each listener where the state changes, and the BrokerAdapter members
 * }
 * ```
 */
export interface ConnectionStateReporter {
  onStateChange(listener: (state: ConnectionState, error?: Error) => void): () => void;
}

/** @internal Whether an adapter reports its connection state changes. */
export function reportsConnectionState(adapter: unknown): adapter is ConnectionStateReporter {
  return typeof (adapter as Partial<ConnectionStateReporter> | undefined)?.onStateChange === 'function';
}

/** @internal Logs an adapter's connection state changes; returns the function that stops it. */
export function logConnectionStates(adapter: unknown, name: string, logger: SafeLogger): () => void {
  if (!logger.enabled || !reportsConnectionState(adapter)) return () => undefined;
  let previous: ConnectionState | undefined;
  return adapter.onStateChange((state, error) => {
    const fields = error === undefined ? { adapter: name, state } : { adapter: name, state, err: error };
    if (state === 'failed') logger.log('error', fields, `${name} connection failed`);
    else if (state === 'reconnecting') {
      // Once per outage: a client that retries every second reports each attempt.
      if (previous !== 'reconnecting') logger.log('warn', fields, `${name} connection lost; reconnecting`);
    } else if (state === 'connected' && previous === 'reconnecting') {
      logger.log('info', fields, `${name} connection restored`);
    } else logger.log('info', fields, `${name} connection ${state}`);
    previous = state;
  });
}
