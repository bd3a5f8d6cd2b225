import type { ConnectionState } from '../adapters/contract';
import { reportsConnectionState } from '../adapters/optional';
import type { SafeLogger } from './logger';

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
