import { kafkaFixture } from './support/brokers';
import { describeOutboxSuite } from './support/relay-suite';

describeOutboxSuite(kafkaFixture());
