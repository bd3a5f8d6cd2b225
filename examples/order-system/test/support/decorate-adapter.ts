import type { BrokerAdapter } from '@tidings/core';

/**
 * An adapter that is `inner` except for the methods given: for injecting faults into publishing
 * or consuming without reimplementing the rest.
 *
 * @example
 * ```ts
 * const counted = decorateAdapter(adapter, { publish: (records) => { sent += records.length; return adapter.publish(records); } });
 * ```
 */
export function decorateAdapter(
  inner: BrokerAdapter,
  overrides: Partial<Pick<BrokerAdapter, 'publish' | 'subscribe'>>,
): BrokerAdapter {
  return {
    get name() {
      return inner.name;
    },
    get capabilities() {
      return inner.capabilities;
    },
    get state() {
      return inner.state;
    },
    connect: () => inner.connect(),
    close: (options) => inner.close(options),
    publish: overrides.publish ?? ((records) => inner.publish(records)),
    subscribe: overrides.subscribe ?? ((spec, handler) => inner.subscribe(spec, handler)),
  };
}
