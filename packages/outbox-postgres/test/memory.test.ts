import { memoryFixture } from './support/brokers';
import { describeOutboxSuite } from './support/relay-suite';

describeOutboxSuite(memoryFixture());
