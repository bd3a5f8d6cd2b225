// The console's HTTP surface on a real Redis: what a page may read, what an action needs, what no
// response ever carries, and mounting under a path.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '@tidings/core';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleHandler, type RunningConsole, startConsole } from '../src';
import { type OrderWorld, REDIS_URL, startOrderWorld } from './fixture';

const TOKEN = 'server-test-token-abcdefghijkl';

describe('the console over HTTP', () => {
  let world: OrderWorld;
  let withActions: RunningConsole;
  let readOnly: RunningConsole;
  let topic: string;

  beforeAll(async () => {
    world = await startOrderWorld();
    withActions = await startConsole({ adapter: world.adapter, ...world.options, actions: { token: TOKEN } });
    readOnly = await startConsole({ adapter: world.adapter, ...world.options });
    topic = `${world.prefix}.shop.order.placed`;
  });
  afterAll(async () => {
    await withActions?.close();
    await readOnly?.close();
    await world?.close();
  });

  const action = (
    base: string,
    headers: Record<string, string>,
    body: unknown = { topic, group: 'billing', ids: ['0-1'] },
  ) =>
    fetch(`${base}api/dead-letters/redrive`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const codeOf = async (response: Response) =>
    ((await response.json()) as { error: { code: string } }).error.code;

  it('serves the page with a Content-Security-Policy that allows only its own origin', async () => {
    const page = await fetch(withActions.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(page.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    const script = await fetch(`${withActions.url}assets/main.js`);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect((await script.text()).length).toBeGreaterThan(1000);
  });

  it('never sends the token or the broker address in a response', async () => {
    for (const path of ['api/meta', 'api/catalog', 'api/flow', 'api/dead-letters']) {
      const text = await (await fetch(`${withActions.url}${path}`)).text();
      expect(text, path).not.toContain(TOKEN);
      expect(text, path).not.toContain(REDIS_URL);
    }
    expect(await (await fetch(`${withActions.url}api/meta`)).json()).toMatchObject({ actions: true });
  });

  it('refuses an action without the token, with a wrong one, and from another site', async () => {
    expect((await action(withActions.url, {})).status).toBe(403);
    const wrong = await action(withActions.url, { Authorization: `Bearer ${TOKEN}x` });
    expect([wrong.status, await codeOf(wrong)]).toEqual([403, 'token']);
    const crossOrigin = await action(withActions.url, {
      Authorization: `Bearer ${TOKEN}`,
      Origin: 'http://evil.example',
    });
    expect([crossOrigin.status, await codeOf(crossOrigin)]).toEqual([403, 'cross-origin']);
    const crossSite = await action(withActions.url, {
      Authorization: `Bearer ${TOKEN}`,
      'Sec-Fetch-Site': 'cross-site',
    });
    expect([crossSite.status, await codeOf(crossSite)]).toEqual([403, 'cross-site']);
    const form = await fetch(`${withActions.url}api/dead-letters/redrive`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'ids=1',
    });
    expect(form.status).toBe(415);
    expect((await fetch(`${withActions.url}api/dead-letters/redrive`)).status).toBe(405);
  });

  it('purges a dead letter with the token, and acts only on a declared subscription', async () => {
    await world.placeOrder('bad-purge');
    type Listed = { letters: { id: string; failure: { reason: string } }[] };
    const listed = async () =>
      (
        (await (
          await fetch(`${withActions.url}api/dead-letters?topic=${topic}&group=billing`)
        ).json()) as Listed
      ).letters;
    await expect.poll(async () => (await listed()).length, { timeout: 15_000 }).toBe(1);
    const [letter] = await listed();
    expect(letter!.failure.reason).toContain('card declined for bad-purge');
    const purge = await fetch(`${withActions.url}api/dead-letters/purge`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ topic, group: 'billing', ids: [letter!.id] }),
    });
    expect([purge.status, await purge.json()]).toEqual([200, { deleted: 1 }]);
    expect(await listed()).toEqual([]);
    const elsewhere = await action(
      withActions.url,
      { Authorization: `Bearer ${TOKEN}` },
      { topic: 'someone.else', group: 'billing', ids: ['0-1'] },
    );
    expect([elsewhere.status, await codeOf(elsewhere)]).toEqual([400, 'config:group']);
  });

  it('refuses every action when started read-only, even with a token', async () => {
    const response = await action(readOnly.url, { Authorization: `Bearer ${TOKEN}` });
    expect([response.status, await codeOf(response)]).toEqual([403, 'actions-disabled']);
    expect(await (await fetch(`${readOnly.url}api/meta`)).json()).toMatchObject({ actions: false });
  });

  it('answers only its own loopback names as Host (DNS rebinding)', async () => {
    const statusWithHost = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(`${readOnly.url}api/meta`);
        request({ hostname: url.hostname, port: url.port, path: url.pathname, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
    const port = new URL(readOnly.url).port;
    expect(await statusWithHost(`localhost:${port}`)).toBe(200);
    expect(await statusWithHost(`127.0.0.1:${port}`)).toBe(200);
    expect(await statusWithHost(`attacker.example:${port}`)).toBe(421);
  });

  it('mounts under a base path in another server', async () => {
    const handler = createConsoleHandler({
      adapter: world.adapter,
      ...world.options,
      basePath: '/ops/events',
    });
    const server: Server = createServer((req, res) => {
      if (req.url?.startsWith('/ops/events')) return handler(req, res);
      res.statusCode = 418;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const bare = await fetch(`${base}/ops/events`, { redirect: 'manual' });
      expect([bare.status, bare.headers.get('location')]).toEqual([308, '/ops/events/']);
      expect((await fetch(`${base}/ops/events/`)).status).toBe(200);
      expect(
        ((await (await fetch(`${base}/ops/events/api/catalog`)).json()) as { events: unknown[] }).events,
      ).toHaveLength(2);
      expect((await fetch(`${base}/elsewhere`)).status).toBe(418);
    } finally {
      await handler.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('mounts in Fastify, taking the body Fastify has parsed', async () => {
    const handler = createConsoleHandler({
      adapter: world.adapter,
      ...world.options,
      basePath: '/ops/events',
      actions: { token: TOKEN },
    });
    const app = Fastify();
    const mount = (request: { raw: object; body: unknown }, reply: { hijack(): void; raw: object }) => {
      reply.hijack();
      handler(Object.assign(request.raw, { body: request.body }) as never, reply.raw as never);
    };
    app.all('/ops/events', mount);
    app.all('/ops/events/*', mount);
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      expect((await fetch(`${base}/ops/events`, { redirect: 'manual' })).headers.get('location')).toBe(
        '/ops/events/',
      );
      expect((await fetch(`${base}/ops/events/`)).headers.get('content-security-policy')).toMatch(
        /default-src/,
      );
      const purge = await fetch(`${base}/ops/events/api/dead-letters/purge`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ topic, group: 'billing', ids: ['0-1'] }),
      });
      expect([purge.status, await purge.json()]).toEqual([200, { deleted: 0 }]);
    } finally {
      await handler.close();
      await app.close();
    }
  });

  it('fails fast on a bad option, naming it', () => {
    const refusal = (options: object) => {
      try {
        createConsoleHandler({ adapter: world.adapter, ...options });
      } catch (error) {
        return error instanceof ConfigError ? error.field : error;
      }
      return undefined;
    };
    expect(refusal({ actions: { token: 'short' } })).toBe('actions.token');
    expect(refusal({ basePath: 'no-slash' })).toBe('basePath');
    expect(refusal({ lagIntervalMs: 5 })).toBe('lagIntervalMs');
    expect(refusal({ subscriptions: [{ group: 1 }] })).toBe('subscriptions[0]');
  });
});
