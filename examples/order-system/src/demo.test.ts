// `npm start` is the README's first command: check that what it shows is what happens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivityRecorder, describeActivity } from './activity';
import { createOrderSystem, type OrderSystem } from './app';
import { loadConfig } from './config';
import { curlHint, runDemo } from './demo';

describe('the demo', () => {
  const lines: string[] = [];
  const recorder = createActivityRecorder((activity) => lines.push(describeActivity(activity)));
  let system: OrderSystem;
  let url: string;

  beforeAll(async () => {
    // The demo's own latencies, but quick retries so that the test does not wait for back-off.
    const config = loadConfig({ PORT: '0', RETRY_INITIAL_DELAY_MS: '20' });
    system = await createOrderSystem({ config, activity: recorder.log });
    url = await system.start();
  });
  afterAll(() => system.stop());

  it('places three orders, answers each in about payment + inventory time, and ships them all', async () => {
    const summary = await runDemo(url, 3, recorder, (line) => lines.push(line));
    expect(summary.placed).toHaveLength(3);
    expect(summary.shipped.map((order) => order.carrier).sort()).toEqual(['dhl', 'postnl', 'ups']);
    // 300 ms of payment and 200 ms of inventory are on the request path; nothing else is.
    for (const { ms } of summary.placed) expect(ms).toBeGreaterThanOrEqual(490);
    expect(lines.filter((line) => line.includes('POST /orders → 202 Accepted'))).toHaveLength(3);
    expect(lines.filter((line) => line.includes('is now "shipped"'))).toHaveLength(3);
    expect(lines.filter((line) => / {2}\S+ {2}shipped /.test(line))).toHaveLength(3);

    // The third customer's address is refused by the email provider: dead-lettered, not retried.
    await recorder.waitFor((a) => a.kind === 'dead-letter' && a.group === 'email-confirmation');
    expect(lines.some((line) => line.includes('refuses linus@blocked.example'))).toBe(true);
    expect(curlHint(url).join('\n')).toContain(`curl -i -X POST ${url}/orders`);
  });
});
