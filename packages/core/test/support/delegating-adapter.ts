// A test double for the telemetry and logging tests (not exported).
import type { BrokerAdapter } from '../../src/adapters/contract';

/** An adapter that forwards to `inner`, with the members of `overrides` in place of its own. */
export function delegatingAdapter<TOverrides extends Partial<Omit<BrokerAdapter, 'state'>>>(
  inner: BrokerAdapter,
  overrides: TOverrides,
): BrokerAdapter & TOverrides {
  const forwarding: BrokerAdapter = {
    name: inner.name,
    capabilities: inner.capabilities,
    get state() {
      return inner.state;
    },
    connect: () => inner.connect(),
    publish: (records) => inner.publish(records),
    subscribe: (spec, handler, observer) => inner.subscribe(spec, handler, observer),
    close: (options) => inner.close(options),
  };
  return Object.assign(forwarding, overrides);
}
