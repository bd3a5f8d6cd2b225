import { redisStreamsFixture } from './support/brokers';
import { describeOutboxSuite } from './support/relay-suite';

describeOutboxSuite(redisStreamsFixture());
