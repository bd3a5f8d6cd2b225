import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent } from './define-event';
import { contractJsonSchema } from './json-schema';

describe('contractJsonSchema', () => {
  it('converts a zod contract through Standard JSON Schema, for the data a handler receives', () => {
    const OrderPlaced = defineEvent({
      type: 'order.placed',
      schema: z.object({ orderId: z.string(), total: z.number().positive(), note: z.string().default('') }),
    });
    const described = contractJsonSchema(OrderPlaced);
    expect(described.source).toBe('standard');
    expect(described.schema).toMatchObject({
      type: 'object',
      properties: { orderId: { type: 'string' }, total: { type: 'number', exclusiveMinimum: 0 } },
      required: ['orderId', 'total', 'note'],
    });
  });

  it('gives a JSON Schema contract as written', () => {
    const schema = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;
    expect(contractJsonSchema(defineEvent({ type: 'thing.made', schema }))).toEqual({
      source: 'json-schema',
      schema,
    });
  });

  it('says why a library without JSON Schema output is opaque, and never throws', () => {
    const bare: StandardSchemaV1<unknown> = {
      '~standard': { version: 1, vendor: 'bare', validate: (value) => ({ value }) },
    };
    const described = contractJsonSchema(defineEvent({ type: 'bare.thing', schema: bare }));
    expect(described).toEqual({
      source: 'opaque',
      schema: undefined,
      reason: 'the bare schema of "bare.thing" does not implement Standard JSON Schema',
    });
    const broken = {
      '~standard': {
        ...bare['~standard'],
        jsonSchema: {
          input: () => ({}),
          output: () => {
            throw new Error('transforms have no JSON Schema');
          },
        },
      },
    };
    expect(contractJsonSchema(defineEvent({ type: 'odd.thing', schema: broken })).reason).toMatch(
      /transforms have no JSON Schema/,
    );
  });
});
