import type { BrokerAdapter } from '@tidings/core/adapter';
import type { NatsConnection } from 'nats';

/**
 * A Tidings adapter on NATS, with access to the connection it runs on.
 *
 * @example
 * ```ts
 * const adapter = createNatsAdapter();
 * await adapter.connect();
 * const kv = await adapter.connection!.jetstream().views.kv('settings');
 * ```
 */
export interface NatsAdapter extends BrokerAdapter {
  /**
   * The NATS connection once `connect()` has opened it, for what Tidings does not cover (key-value
   * buckets, request-reply, stream administration); undefined before.
   */
  readonly connection: NatsConnection | undefined;
}
