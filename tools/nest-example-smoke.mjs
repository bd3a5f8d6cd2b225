// Runs examples/nestjs-orders as its README says (compiled by tsc with decorator metadata, started
// with node against the built packages): places an order over HTTP, waits until it is shipped,
// reads the health endpoint, stops the process with SIGTERM and expects a clean exit.
//   node tools/nest-example-smoke.mjs     after npm run build and `npm run build -w examples/nestjs-orders`
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cwd = fileURLToPath(new URL('../examples/nestjs-orders/', import.meta.url));
const child = spawn(process.execPath, ['dist/src/main.js'], {
  cwd,
  env: { ...process.env, PORT: '0', BROKER: 'memory', NO_COLOR: '1' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
child.stdout.setEncoding('utf8').on('data', (chunk) => {
  output += chunk;
});
child.stderr.setEncoding('utf8').on('data', (chunk) => {
  output += chunk;
});
const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

function fail(message) {
  child.kill('SIGKILL');
  console.error(`nest-example-smoke: ${message}\n--- output ---\n${output}`);
  process.exit(1);
}

async function until(check, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const url = await until(() => /listening on (http:\/\/\S+)/.exec(output)?.[1], 'the app to listen');
const placed = await fetch(`${url}/orders`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ customerEmail: 'ada@example.com', totalCents: 1250 }),
});
if (placed.status !== 202) fail(`POST /orders answered ${placed.status}`);
const { id } = await placed.json();
await until(
  async () => (await (await fetch(`${url}/orders/${id}`)).json()).status === 'shipped',
  `order ${id} to be shipped`,
);
const health = await fetch(`${url}/health`);
if (health.status !== 200) fail(`GET /health answered ${health.status}`);
child.kill('SIGTERM');
const { code, signal } = await Promise.race([
  exited,
  new Promise((resolve) => setTimeout(() => resolve({ code: 'timeout', signal: null }), 15_000)),
]);
// Nest closes the application, then raises the signal again on itself: that is its clean exit.
if (code !== 0 && signal !== 'SIGTERM')
  fail(`the app did not exit cleanly on SIGTERM (code ${code}, signal ${signal})`);
if (!output.includes('bus stopped')) fail('the bus did not say it stopped');
console.log(
  `nest-example-smoke: order ${id} shipped, health 200, clean exit on SIGTERM (Node ${process.version})`,
);
