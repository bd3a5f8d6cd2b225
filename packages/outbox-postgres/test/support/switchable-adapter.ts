import type { BrokerAdapter, OutgoingRecord } from '@tidings/core';
import { ConnectionError } from '@tidings/core/adapter';

/**
 * An adapter that behaves as `inner` except for `publish`, which goes through `publish` (given
 * the inner adapter's own publish to call or not).
 */
export function interceptPublish(
  inner: BrokerAdapter,
  publish: (
    records: readonly OutgoingRecord[],
    next: (records: readonly OutgoingRecord[]) => Promise<void>,
  ) => Promise<void>,
): BrokerAdapter {
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    get state() {
      return inner.state;
    },
    connect: () => inner.connect(),
    subscribe: (spec, handler) => inner.subscribe(spec, handler),
    close: (options) => inner.close(options),
    publish: (records) => publish(records, (some) => inner.publish(some)),
  };
}

/** Makes a broker look down to whoever publishes through the wrapper. */
export interface BrokerSwitch {
  down: boolean;
  /** Publish calls refused while down. */
  refused: number;
}

/**
 * Wraps an adapter so that every publish fails with a `ConnectionError` while `down` is set, as
 * when the broker is stopped, without stopping the shared broker other tests use.
 */
export function switchable(inner: BrokerAdapter): { adapter: BrokerAdapter; control: BrokerSwitch } {
  const control: BrokerSwitch = { down: false, refused: 0 };
  const adapter = interceptPublish(inner, (records, next) => {
    if (!control.down) return next(records);
    control.refused++;
    return Promise.reject(new ConnectionError(`${inner.name} is down (test switch)`));
  });
  return { adapter, control };
}
