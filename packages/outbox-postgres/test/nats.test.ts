import { natsFixture } from './support/brokers';
import { describeOutboxSuite } from './support/relay-suite';

describeOutboxSuite(natsFixture());
