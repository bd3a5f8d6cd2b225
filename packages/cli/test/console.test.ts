// `tidings console` as a user starts it: a process serving the console from the config, read-only
// unless started with --actions, and every action behind the token.
import { describe, expect, it } from 'vitest';
import { startCli } from './process';

describe('tidings console', () => {
  it('serves the catalog of the config, refuses an action without the token, and stops on Ctrl-C', async () => {
    const token = 'a-console-token-for-the-test';
    const cli = startCli(['console', '--port', '0', '--actions', '--json'], {
      env: { TIDINGS_CONSOLE_TOKEN: token },
    });
    await cli.until((c) => c.stdout.includes('"url"'), 60_000);
    const { url, actions } = JSON.parse(cli.stdout.trim().split('\n')[0]!) as {
      url: string;
      actions: boolean;
    };
    expect(actions).toBe(true);
    // A token from the environment is the operator's already: it is never printed.
    expect(cli.stdout + cli.stderr).not.toContain(token);

    const catalog = await fetch(new URL('api/catalog', url.endsWith('/') ? url : `${url}/`));
    expect(catalog.status).toBe(200);
    expect(JSON.stringify(await catalog.json())).toContain('cli-test.order.placed');

    const refused = await fetch(new URL('api/dead-letters/purge', url.endsWith('/') ? url : `${url}/`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 'cli-test.orders', group: 'cli-test-billing', ids: ['1-0'] }),
    });
    expect(refused.status).toBe(403);

    cli.child.kill('SIGINT');
    expect((await cli.exited).code).toBe(0);
  });
});
