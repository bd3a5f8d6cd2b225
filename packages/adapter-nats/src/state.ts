import type { ConnectionState } from '@tidings/core/adapter';
import type { StateListener } from './connection';

/**
 * Tells listeners each time an adapter's `state` changes (the bus logs "connection lost;
 * reconnecting" and "connection restored" from it). The adapter calls {@link changed} wherever
 * its state may have changed; listeners hear of real changes only, once each.
 */
export class StateReporter {
  private last: ConnectionState;
  private readonly listeners = new Set<StateListener>();

  constructor(private readonly current: () => ConnectionState) {
    this.last = current();
  }

  listen(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The state may have changed; `error` says why, when it changed for the worse. */
  changed(error?: Error): void {
    const state = this.current();
    if (state === this.last) return;
    this.last = state;
    for (const listener of this.listeners) {
      try {
        listener(state, error);
      } catch {
        // A listener's failure is its own; the adapter goes on.
      }
    }
  }
}
