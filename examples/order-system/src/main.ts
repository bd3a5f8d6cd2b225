// `npm start`: the order system in one process. With no configuration it runs on the in-memory
// broker and in-memory storage; BROKER and DATABASE_URL move the same code onto a real broker and
// PostgreSQL (see the example's README).
import { createActivityRecorder, describeActivity } from './activity';
import { createOrderSystem } from './app';
import { loadConfig } from './config';
import { curlHint, runDemo } from './demo';
import { describeBroker } from './infrastructure/broker';

const config = loadConfig();
const recorder = createActivityRecorder((activity) => console.log(describeActivity(activity)));
const system = await createOrderSystem({ config, activity: recorder.log });

// Stop on the first signal, gracefully; a second one means "now".
let stopping = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (stopping) process.exit(1);
  stopping = true;
  console.log(`\n${signal}: stopping...`);
  system.stop().then(
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
console.log('');
if (config.demoOrders > 0) {
  await runDemo(url, config.demoOrders, recorder, console.log);
  console.log('');
}
for (const line of curlHint(url)) console.log(line);
