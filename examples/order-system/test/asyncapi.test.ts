// The example's AsyncAPI document (asyncapi.yaml, made by `npm run asyncapi`) is what the
// generator makes of the example's config today, and the official parser takes it whole.
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { tidings } from './support/tidings';

const COMMITTED = new URL('../asyncapi.yaml', import.meta.url);

describe('the AsyncAPI document of the order system', () => {
  it('is what `npm run asyncapi` writes now: regenerate it after changing a contract or a group', async () => {
    const out = join(tmpdir(), `order-system-asyncapi-${process.pid}.yaml`);
    const made = await tidings(
      [
        'asyncapi',
        '--title',
        'Order system events',
        '--api-version',
        '1.0.0',
        '--server',
        '127.0.0.1:9092',
        '--out',
        out,
      ],
      { BROKER: 'kafka' },
    );
    expect(made.code).toBe(0);
    expect(await readFile(out, 'utf8')).toBe(await readFile(COMMITTED, 'utf8'));
  });

  it('has no error or warning for the AsyncAPI parser, and names every contract, producer and group', async () => {
    const text = await readFile(COMMITTED, 'utf8');
    const { document, diagnostics } = await new Parser().parse(text);
    expect(diagnostics.filter((d) => d.severity <= 1).map((d) => d.message)).toEqual([]);
    expect(
      document!
        .messages()
        .all()
        .map((m) => m.name())
        .sort(),
    ).toEqual(['shop.order.placed', 'shop.shipment.prepared']);
    const operations = document!
      .operations()
      .all()
      .map((o) => `${o.action()} ${o.id()}`)
      .sort();
    expect(operations).toContain('send order-api.send.shop.order.placed');
    expect(operations).toContain('receive email-confirmation.receive.shop.order.placed');
    expect(operations).toContain('receive order-status.receive.shop.shipment.prepared');
  });
});
