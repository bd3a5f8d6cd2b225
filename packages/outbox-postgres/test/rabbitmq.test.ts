import { rabbitmqFixture } from './support/brokers';
import { describeOutboxSuite } from './support/relay-suite';

describeOutboxSuite(rabbitmqFixture());
