import { type AdapterSubscription, type CloseOptions, ConfigError } from '@tidings/core/adapter';
import { closedError, connectionFailure } from './errors';

/** A subscription that registers with the broker in `start`. */
export interface Startable extends AdapterSubscription {
  start(): Promise<void>;
  close(options?: CloseOptions): Promise<void>;
}

/**
 * Starts a subscription the adapter already tracks. A failed start releases what it made and
 * rejects with a typed error; a start that finishes after the adapter began to close (and so was
 * not among the subscriptions it closed) closes it and rejects with a `ClosedError`.
 */
export async function startSubscription<T extends Startable>(
  subscription: T,
  group: string,
  adapter: { readonly name: string; readonly closing: boolean },
): Promise<T> {
  try {
    await subscription.start();
  } catch (error) {
    await subscription.close({ signal: AbortSignal.abort() });
    throw error instanceof ConfigError
      ? error
      : connectionFailure(error, `cannot subscribe group "${group}"`);
  }
  if (adapter.closing) {
    await subscription.close();
    throw closedError('subscribe', adapter.name);
  }
  return subscription;
}
