import { type BrokerAdapter, createPreparedPublisher } from '@tidings/core';
import { decorateAdapter } from './decorate-adapter';

/**
 * The adapter as the outbox relay should see it: its publishes go through
 * `createPreparedPublisher`, so each batch the relay sends is a `publish` span linked to the
 * requests that wrote the events, and a trace runs from `POST /orders` through the relay to every
 * consumer.
 *
 * @example
 * ```ts
 * const relay = createOutboxRelay({ store: outbox, adapter: withTracedPublishing(bus.adapter) });
 * ```
 */
export function withTracedPublishing(adapter: BrokerAdapter): BrokerAdapter {
  return decorateAdapter(adapter, { publish: createPreparedPublisher(adapter) });
}
