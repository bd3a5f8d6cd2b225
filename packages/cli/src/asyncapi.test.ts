import { Parser } from '@asyncapi/parser';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { defineEvent } from '@tidings/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAsyncApiDocument } from './asyncapi';

const OrderPlaced = defineEvent({
  type: 'order.placed',
  version: 2,
  description: 'An order was accepted.',
  schema: z.object({
    orderId: z.string(),
    status: z.enum(['new', 'paid']),
    lines: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })),
    placedAt: z.iso.datetime(),
  }),
  key: (data) => data.orderId,
});
const Refunded = defineEvent({
  type: 'payment.refunded',
  topic: 'payments',
  schema: {
    type: 'object',
    properties: { paymentId: { type: 'string' }, cents: { type: 'integer' } },
    required: ['paymentId', 'cents'],
    additionalProperties: false,
  } as const,
});
const config = {
  events: [OrderPlaced, Refunded],
  producers: [{ name: 'shop', events: [OrderPlaced, Refunded] }],
  subscriptions: [
    { group: 'billing', events: [OrderPlaced] },
    { group: 'ledger', events: [OrderPlaced, Refunded] },
  ],
};
const adapters = {
  kafka: 'ce_',
  rabbitmq: 'cloudEvents:',
  nats: 'ce-',
  redis: 'ce_',
} as const;

/** The official parser's findings, errors and warnings alike (severity 0 and 1). */
async function findings(document: unknown): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(document));
  return diagnostics
    .filter((d) => d.severity <= 1)
    .map((d) => `${d.code} at ${d.path.join('.')}: ${d.message}`);
}

describe('createAsyncApiDocument', () => {
  for (const [name, headerPrefix] of Object.entries(adapters)) {
    it(`writes a ${name} document that the AsyncAPI parser takes without an error or a warning`, async () => {
      const { document, warnings } = createAsyncApiDocument(
        config,
        { name, capabilities: { headerPrefix } as never },
        {
          title: 'Shop',
          version: '2.0.0',
          server: { host: 'broker.internal:1234' },
        },
      );
      expect(warnings).toEqual([]);
      expect(await findings(document)).toEqual([]);
    });
  }

  it('has a channel per topic, a message per contract with its schema and CloudEvents headers, and operations per producer and group', () => {
    const { document } = createAsyncApiDocument(config, {
      name: 'kafka',
      capabilities: { headerPrefix: 'ce_' } as never,
    });
    const doc = document as {
      channels: Record<string, { address: string; messages: Record<string, unknown> }>;
      operations: Record<string, { action: string; bindings?: { kafka?: { groupId: { enum: string[] } } } }>;
      components: {
        messages: Record<
          string,
          {
            payload: Record<string, unknown>;
            headers: { required: string[]; properties: Record<string, { const?: string }> };
          }
        >;
      };
    };
    expect(
      Object.values(doc.channels)
        .map((c) => c.address)
        .sort(),
    ).toEqual(['order.placed', 'payments']);
    const placed = doc.components.messages['order.placed.v2']!;
    expect(placed.payload).toMatchObject({
      type: 'object',
      required: ['orderId', 'status', 'lines', 'placedAt'],
    });
    expect(placed.payload).not.toHaveProperty('$schema');
    expect(placed.headers.required).toEqual(['ce_id', 'ce_source', 'ce_type', 'ce_specversion']);
    expect(placed.headers.properties.ce_type?.const).toBe('order.placed');
    expect(doc.components.messages['payment.refunded.v1']!.payload).toEqual(Refunded.schema);
    expect(
      Object.entries(doc.operations)
        .map(([id, op]) => `${id}:${op.action}`)
        .sort(),
    ).toEqual([
      'billing.receive.order.placed:receive',
      'ledger.receive.order.placed:receive',
      'ledger.receive.payment.refunded:receive',
      'shop.send.order.placed:send',
      'shop.send.payment.refunded:send',
    ]);
    expect(doc.operations['billing.receive.order.placed']!.bindings?.kafka?.groupId.enum).toEqual([
      'billing',
    ]);
  });

  it('marks a contract whose schema library writes no JSON Schema as opaque, with a warning', async () => {
    const bare: StandardSchemaV1<{ n: number }> = {
      '~standard': { version: 1, vendor: 'bare', validate: (value) => ({ value: value as { n: number } }) },
    };
    const Opaque = defineEvent({ type: 'thing.done', schema: bare });
    const { document, warnings } = createAsyncApiDocument(
      { events: [Opaque] },
      { name: 'nats', capabilities: { headerPrefix: 'ce-' } as never },
    );
    expect(warnings).toEqual([
      'thing.done: the bare schema of "thing.done" does not implement Standard JSON Schema; its payload is documented as any JSON value',
    ]);
    expect(await findings(document)).toEqual([]);
  });
});
