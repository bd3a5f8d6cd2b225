import { contractJsonSchema } from '@tidings/core';
import { describe, expect, it } from 'vitest';
import { contracts } from '../../../examples/order-system/src/contracts';
import { exampleOf } from './example';

describe('exampleOf', () => {
  it('makes an order-system payload that its own contract accepts', async () => {
    for (const contract of contracts) {
      const example = exampleOf(contractJsonSchema(contract).schema);
      const outcome = await contract.validate(example);
      expect(outcome.issues, contract.type).toBeUndefined();
    }
  });

  it('honours enums, consts, bounds, formats, unions and local references', () => {
    expect(
      exampleOf({
        type: 'object',
        properties: {
          kind: { enum: ['b', 'a'] },
          fixed: { const: 7 },
          count: { type: 'integer', exclusiveMinimum: 4 },
          ratio: { type: 'number', minimum: 0.25, maximum: 0.5 },
          id: { type: 'string', format: 'uuid' },
          code: { type: 'string', minLength: 6 },
          maybe: { anyOf: [{ type: 'null' }, { type: 'boolean' }] },
          item: { $ref: '#/$defs/item' },
        },
        $defs: { item: { type: 'array', items: { type: 'string' }, minItems: 2 } },
      }),
    ).toEqual({
      kind: 'b',
      fixed: 7,
      count: 5,
      ratio: 0.25,
      id: '01890a5d-ac96-774b-bcce-b302099a8057',
      code: 'code-1',
      maybe: true,
      item: ['item-1', 'item-1'],
    });
  });

  it('stops at recursive schemas and answers null for what it cannot describe', () => {
    const tree = { type: 'object', properties: { child: { $ref: '#' } } };
    expect(JSON.stringify(exampleOf(tree))).toContain('null');
    expect(exampleOf(undefined)).toBeNull();
    expect(exampleOf({})).toBeNull();
  });
});
