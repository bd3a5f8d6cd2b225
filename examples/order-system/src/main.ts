// `npm start`: the order system in one process. With no configuration it runs on the in-memory
// broker and in-memory storage; BROKER and DATABASE_URL move the same code onto a real broker and
// PostgreSQL (see the example's README).
import { type RunningConsole, startConsole } from '@tidings/console';
import { createActivityRecorder, describeActivity } from './activity';
import { consumerGroups, createOrderSystem, topicNamer } from './app';
import { loadConfig } from './config';
import { contracts, OrderPlaced, ShipmentPrepared } from './contracts';
import { curlHint, runDemo } from './demo';
import { describeBroker } from './infrastructure/broker';

const config = loadConfig();
const recorder = createActivityRecorder((activity) => console.log(describeActivity(activity)));
const system = await createOrderSystem({ config, activity: recorder.log });

// Stop on the first signal, gracefully; a second one means "now".
let stopping = false;
let consoleServer: RunningConsole | undefined;
const shutdown = (signal: NodeJS.Signals): void => {
  if (stopping) process.exit(1);
  stopping = true;
  console.log(`\n${signal}: stopping...`);
  // The console first: its live streams read through the bus's adapter.
  Promise.resolve(consoleServer?.close())
    .then(() => system.stop())
    .then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('shutdown failed:', error);
        process.exit(1);
      },
    );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);

const url = await system.start();
console.log(`Tidings order system on ${url}`);
console.log(`  broker:  ${describeBroker(config.broker)}`);
console.log(`  storage: ${system.persistence.description}`);
if (config.console !== undefined) {
  // The web console beside the app, on the bus's own adapter: the same topics, groups and dead
  // letters the app uses (CONSOLE_PORT=off for none; CONSOLE_TOKEN enables redrive and purge).
  consoleServer = await startConsole({
    adapter: system.bus.adapter,
    events: contracts,
    subscriptions: consumerGroups(config).map(({ group, contracts: events }) => ({ group, events })),
    producers: [
      { name: 'order-service', events: [OrderPlaced] },
      { name: 'fulfilment', events: [ShipmentPrepared] },
    ],
    topic: topicNamer(config),
    host: config.http.host,
    port: config.console.port,
    actions: config.console.token === undefined ? false : { token: config.console.token },
  });
  console.log(`  console: ${consoleServer.url}${config.console.token === undefined ? ' (read-only)' : ''}`);
}
console.log('');
if (config.demoOrders > 0) {
  await runDemo(url, config.demoOrders, recorder, console.log);
  console.log('');
}
for (const line of curlHint(url)) console.log(line);
