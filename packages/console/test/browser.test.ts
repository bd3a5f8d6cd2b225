// The console's page in headless Chromium against a real Redis: the catalog, the flow, lag that
// rises and falls, a dead letter redriven from the page, an action refused without the token, a
// live tail; each page photographed for docs/console.md.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningConsole, startConsole } from '../src';
import { type OrderWorld, startOrderWorld } from './fixture';

const CHROMIUM = process.env.TIDINGS_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'console-test-token-0123456789';
// axe-core checks each page against WCAG 2 A and AA (labels, contrast, roles, keyboard names).
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
// The screenshots go to docs/console when asked (TIDINGS_CONSOLE_SCREENSHOTS=docs), so that an
// ordinary run leaves the working tree as it found it.
const SHOTS =
  process.env.TIDINGS_CONSOLE_SCREENSHOTS === 'docs'
    ? join(import.meta.dirname, '..', '..', '..', 'docs', 'console')
    : join(tmpdir(), 'tidings-console-screenshots');

describe('the console in a browser, on Redis Streams', () => {
  let world: OrderWorld;
  let running: RunningConsole;
  let browser: Browser;
  let page: Page;
  const foreign: string[] = [];

  const shot = async (name: string) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    expect(await accessibilityViolations(), name).toEqual([]);
  };
  const accessibilityViolations = async () => {
    // Evaluated through the DevTools protocol, which the page's CSP does not govern.
    await page.evaluate(AXE);
    return page.evaluate(async () => {
      const { axe } = window as unknown as {
        axe: {
          run(
            context: Document,
            options: object,
          ): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }>;
        };
      };
      const result = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] });
      return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
  };
  const open = async (hash: string) => {
    await page.goto(`${running.url}#/${hash}`);
    await page.locator('#page-heading').waitFor();
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    world = await startOrderWorld();
    running = await startConsole({
      adapter: world.adapter,
      ...world.options,
      actions: { token: TOKEN },
      lagIntervalMs: 250,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // The page must work with no network beyond the console: anything else is refused and noted.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(running.url)) return route.continue();
      foreign.push(url);
      return route.abort();
    });
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await running?.close();
    await world?.close();
  });

  it('lists the order system contracts in the catalog, with an example payload and their consumers', async () => {
    await open('catalog');
    const placed = page.locator('article[data-event="shop.order.placed"]');
    await expect.poll(() => placed.count()).toBe(1);
    expect(await page.locator('article[data-event="shop.shipment.prepared"]').count()).toBe(1);
    expect(await placed.locator('.consumers').textContent()).toBe('billing, fulfilment, analytics');
    const example = JSON.parse((await placed.locator('pre.example').textContent()) ?? '');
    expect(example.customerEmail).toBe('someone@example.com');
    expect(example.lines).toHaveLength(1);
    await shot('catalog');
  });

  it('moves between pages from the keyboard, focusing each page heading', async () => {
    await open('catalog');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Flow');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('page-heading');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Flow');
  });

  it('draws the flow from producers to topics to groups', async () => {
    await open('flow');
    const labels = await page.locator('svg .node text').allTextContents();
    expect(labels).toEqual(
      expect.arrayContaining(['order-service', 'warehouse', 'billing', 'fulfilment', 'analytics']),
    );
    expect(await page.locator('svg path.edge').count()).toBe(2 + 4);
    await shot('flow');
  });

  it('shows the lag of a paused group rising, and falling once it resumes', async () => {
    await open('groups');
    const lag = page.locator(`tr[data-group="fulfilment"] td.lag`);
    await lag.waitFor();
    world.fulfilment.pause();
    for (let i = 0; i < 12; i++) await world.placeOrder(`lag-${i}`);
    await expect
      .poll(async () => Number(await lag.textContent()), { timeout: 15_000 })
      .toBeGreaterThanOrEqual(12);
    world.fulfilment.resume();
    await expect.poll(async () => Number(await lag.textContent()), { timeout: 15_000 }).toBe(0);
    // After the fall, so the chart shows the rise and the fall.
    await shot('groups');
    expect(world.handled.fulfilment.filter((id) => id.startsWith('lag-'))).toHaveLength(12);
  });

  it('shows a dead letter with its reason, refuses to redrive it without the token, and redrives it with it', async () => {
    await world.placeOrder('bad-1');
    await open('dead-letters');
    const row = page.locator('table.letters tr[data-group="billing"]');
    // The page lists on demand: apply the filter until the dead letter has landed.
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Apply' }).click();
          return row.count();
        },
        { timeout: 15_000 },
      )
      .toBe(1);
    expect(await row.locator('.reason').textContent()).toContain('card declined for bad-1');
    await row.getByRole('button').click();
    await expect
      .poll(() => page.locator('.detail .reason').textContent())
      .toContain('card declined for bad-1');
    expect(await page.locator('.detail pre.data').textContent()).toContain('"orderId": "bad-1"');
    await shot('dead-letters');

    // Without the token: the server refuses and the page says so; the letter stays.
    await row.getByRole('checkbox').check();
    await page.getByRole('button', { name: /Redrive selected/ }).click();
    await page.getByRole('button', { name: 'Yes, redrive' }).click();
    await expect.poll(() => page.locator('#dl-status').textContent()).toContain('Refused (403)');
    expect(await row.count()).toBe(1);

    // With it: redriven to billing only, and handled there now that billing accepts it.
    world.billingAccepts = true;
    await page.getByLabel('Action token').fill(TOKEN);
    await page.getByRole('button', { name: /Redrive selected/ }).click();
    await page.getByRole('button', { name: 'Yes, redrive' }).click();
    await expect.poll(() => page.locator('#dl-status').textContent()).toContain('Redriven: 1');
    await expect.poll(() => world.handled.billing.includes('bad-1'), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => row.count()).toBe(0);
  });

  it('tails a topic live', async () => {
    await open('tail');
    await page.getByRole('button', { name: 'Follow' }).click();
    await page.locator('[data-ready="yes"]').waitFor({ timeout: 10_000 });
    await world.placeOrder('tail-1');
    await page.locator('.record', { hasText: 'tail-1' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('.record strong').first().textContent()).toBe('shop.order.placed');
    await shot('tail');
  });

  it('loaded nothing from outside the console', () => {
    expect(foreign).toEqual([]);
  });
});
