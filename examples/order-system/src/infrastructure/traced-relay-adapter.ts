import { type BrokerAdapter, createPreparedPublisher } from '@tidings/core';

/**
 * The adapter as the outbox relay should see it: its publishes go through
 * `createPreparedPublisher`, so each batch the relay sends is a `publish` span linked to the
 * requests that wrote the events, and a trace runs from `POST /orders` through the relay to every
 * consumer. Everything else is the adapter itself.
 *
 * @example
 * ```ts
 * const relay = createOutboxRelay({ store: outbox, adapter: withTracedPublishing(bus.adapter) });
 * ```
 */
export function withTracedPublishing(adapter: BrokerAdapter): BrokerAdapter {
  const publish = createPreparedPublisher(adapter);
  return {
    get name() {
      return adapter.name;
    },
    get capabilities() {
      return adapter.capabilities;
    },
    get state() {
      return adapter.state;
    },
    connect: () => adapter.connect(),
    publish,
    subscribe: (spec, handler) => adapter.subscribe(spec, handler),
    close: (options) => adapter.close(options),
  };
}
