// Run by ../faulty.test.ts in a child vitest process, once per fault: not a test file of its own.
import { createMemoryBroker } from '@tidings/core';
import { describeAdapter } from '../../src/index';
import { type Fault, faultyAdapter } from './faulty-adapters';

const fault = process.env.TIDINGS_FAULT as Fault;
const broker = createMemoryBroker();

describeAdapter({
  name: `faulty-${fault}`,
  createAdapter: () => faultyAdapter(fault, broker),
  deliveryTimeoutMs: 2_000,
  redeliveryTimeoutMs: 2_000,
});
