import type { IncomingRecord } from '../../src/adapters/contract';
import { DeliveryContext } from '../../src/context/delivery';
import type { PublishedEvent } from '../../src/context/publish';

/** A delivery context for unit tests of one policy, without a bus. */
export function testContext(overrides: Partial<IncomingRecord> = {}, maxAttempts = 5): DeliveryContext {
  const record: IncomingRecord = {
    topic: 'order.placed',
    key: 'order-1',
    headers: {},
    body: new Uint8Array(0),
    attempt: 1,
    position: 'order.placed@7',
    ...overrides,
  };
  return new DeliveryContext(record, 'billing', maxAttempts, {
    publish: async (contract) =>
      ({ id: 'x', type: contract.type, topic: contract.type, key: undefined }) as PublishedEvent,
  });
}
