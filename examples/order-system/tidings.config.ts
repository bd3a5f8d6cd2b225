// What the `tidings` command line works with in this example: the same broker, contracts, topic
// names and consumer groups as the app, read from the same environment variables (BROKER,
// BROKER_URL, TOPIC_PREFIX, GROUP_PREFIX, ...). Run it with `npm run tidings -- <command>`.
import { defineConfig } from '@tidings/cli';
import { consumerGroups, topicNamer } from './src/app';
import { loadConfig } from './src/config';
import { contracts, OrderPlaced, ShipmentPrepared } from './src/contracts';
import { createBrokerAdapter } from './src/infrastructure/broker';

const config = loadConfig();

export default defineConfig({
  adapter: () => createBrokerAdapter(config.broker),
  events: contracts,
  topic: topicNamer(config),
  source: 'order-system-operator',
  subscriptions: consumerGroups(config).map(({ group, contracts: events }) => ({ group, events })),
  // The order API publishes through its outbox; fulfilment publishes once the warehouse packed.
  producers: [
    { name: 'order-api', events: [OrderPlaced] },
    { name: 'fulfilment', events: [ShipmentPrepared] },
  ],
});
