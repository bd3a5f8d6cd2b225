import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, DecodeError } from '../errors';
import { defineEvent } from './define-event';

const zodContract = defineEvent({
  type: 'order.placed',
  version: 3,
  schema: z.object({ orderId: z.string(), total: z.number().nonnegative(), currency: z.string().length(3) }),
  key: (data) => data.orderId,
  upcasters: {
    1: (v1: { id: string; total: number }) => ({ orderId: v1.id, total: v1.total }),
    2: (v2: { orderId: string; total: number }) => ({ ...v2, currency: 'EUR' }),
  },
});

const jsonContract = defineEvent({
  type: 'order.shipped',
  schema: {
    type: 'object',
    properties: {
      orderId: { type: 'string', minLength: 1 },
      items: {
        type: 'array',
        items: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] },
      },
      shippedAt: { type: 'string', format: 'date-time' },
    },
    required: ['orderId', 'items'],
    additionalProperties: false,
  },
});

describe('defineEvent with a zod schema', () => {
  it('validates and returns the parsed value', () => {
    expect(zodContract.validate({ orderId: 'o-1', total: 5, currency: 'EUR' })).toEqual({
      value: { orderId: 'o-1', total: 5, currency: 'EUR' },
    });
  });

  it('reports every issue with its path', async () => {
    const outcome = await zodContract.validate({ orderId: 1, total: -1, currency: 'EUR' });
    expect(outcome.issues).toEqual([
      expect.objectContaining({ path: ['orderId'] }),
      expect.objectContaining({ path: ['total'] }),
    ]);
  });

  it('upcasts through every version in turn', () => {
    expect(zodContract.upcast({ id: 'o-1', total: 7 }, 1)).toEqual({
      orderId: 'o-1',
      total: 7,
      currency: 'EUR',
    });
    expect(zodContract.upcast({ orderId: 'o-1', total: 7 }, 2)).toEqual({
      orderId: 'o-1',
      total: 7,
      currency: 'EUR',
    });
    const current = { orderId: 'o-1', total: 7, currency: 'USD' };
    expect(zodContract.upcast(current, 3)).toBe(current);
  });

  it('refuses data from a newer version than it knows', () => {
    expect(() => zodContract.upcast({}, 4)).toThrow(DecodeError);
    expect(() => zodContract.upcast({}, 4)).toThrow(/newer than this consumer's contract/);
  });

  it('says which upcaster is missing or failed', () => {
    const gap = defineEvent({
      type: 'gap',
      version: 3,
      schema: z.object({}),
      upcasters: { 2: (d: object) => d },
    });
    expect(() => gap.upcast({}, 1)).toThrow(/no upcaster from version 1 to 2/);
    const broken = defineEvent({
      type: 'broken',
      version: 2,
      schema: z.object({}),
      upcasters: {
        1: () => {
          throw new Error('boom');
        },
      },
    });
    expect(() => broken.upcast({}, 1)).toThrow(/upcaster from version 1 failed: boom/);
  });

  it('supports async refinements', async () => {
    const contract = defineEvent({
      type: 'async.checked',
      schema: z.object({ n: z.number() }).refine(async (d) => d.n > 0, 'n must be positive'),
    });
    const outcome = await contract.validate({ n: 0 });
    expect(outcome.issues?.[0]?.message).toBe('n must be positive');
  });
});

describe('defineEvent with a JSON Schema', () => {
  it('validates with Ajv, formats included', async () => {
    expect(
      jsonContract.validate({ orderId: 'o', items: [{ sku: 'a' }], shippedAt: '2026-11-24T10:00:00Z' }),
    ).toEqual({
      value: { orderId: 'o', items: [{ sku: 'a' }], shippedAt: '2026-11-24T10:00:00Z' },
    });
    const outcome = await jsonContract.validate({
      orderId: '',
      items: [{}],
      shippedAt: 'yesterday',
      extra: 1,
    });
    const issues = outcome.issues ?? [];
    expect(issues.map((issue) => issue.path)).toEqual(
      expect.arrayContaining([['orderId'], ['items', 0, 'sku'], ['shippedAt'], []]),
    );
  });

  it('rejects an invalid schema at definition time, naming the event', () => {
    expect(() =>
      defineEvent({
        type: 'bad.schema',
        schema: { type: 'object', properties: { a: { type: 'strin' } } } as never,
      }),
    ).toThrow(/bad\.schema.*invalid JSON Schema/);
  });
});

describe('defineEvent configuration checks', () => {
  it.each([
    [{ type: '', schema: z.object({}) }, 'type'],
    [{ type: 't', version: 0, schema: z.object({}) }, 'version'],
    [{ type: 't', version: 1.5, schema: z.object({}) }, 'version'],
    [{ type: 't', topic: '', schema: z.object({}) }, 'topic'],
    [{ type: 't', version: 2, schema: z.object({}), upcasters: { 2: (d: unknown) => d } }, 'upcasters.2'],
    [{ type: 't', schema: 'not a schema' }, 'schema'],
  ])('names the bad field', (definition, field) => {
    try {
      defineEvent(definition as never);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe(field);
    }
  });
});
