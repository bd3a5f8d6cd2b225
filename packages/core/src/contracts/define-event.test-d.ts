import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createBus } from '../bus/bus';
import type { EventData, EventInput } from './define-event';
import { defineEvent } from './define-event';

const OrderPlaced = defineEvent({
  type: 'order.placed',
  schema: z.object({ orderId: z.string(), total: z.number(), note: z.string().default('') }),
});

const OrderShipped = defineEvent({
  type: 'order.shipped',
  schema: {
    type: 'object',
    properties: { orderId: { type: 'string' }, carrier: { type: 'string', enum: ['dhl', 'ups'] } },
    required: ['orderId', 'carrier'],
    additionalProperties: false,
  },
});

const bus = createBus({ source: 'types' });

describe('contract types', () => {
  it('infers input and output from zod', () => {
    expectTypeOf<EventInput<typeof OrderPlaced>>().toEqualTypeOf<{
      orderId: string;
      total: number;
      note?: string | undefined;
    }>();
    expectTypeOf<EventData<typeof OrderPlaced>>().toEqualTypeOf<{
      orderId: string;
      total: number;
      note: string;
    }>();
    expectTypeOf(OrderPlaced.type).toEqualTypeOf<'order.placed'>();
  });

  it('infers data from a JSON Schema', () => {
    expectTypeOf<EventData<typeof OrderShipped>>().toEqualTypeOf<{
      orderId: string;
      carrier: 'dhl' | 'ups';
    }>();
  });

  it('accepts matching data on publish', () => {
    void bus.publish(OrderPlaced, { orderId: 'o', total: 1 });
    void bus.publish(OrderShipped, { orderId: 'o', carrier: 'dhl' });
  });

  it('rejects data that does not match a zod contract at compile time', () => {
    // @ts-expect-error total must be a number
    void bus.publish(OrderPlaced, { orderId: 'o', total: '1' });
    // @ts-expect-error orderId is required
    void bus.publish(OrderPlaced, { total: 1 });
  });

  it('rejects data that does not match a JSON Schema contract at compile time', () => {
    // @ts-expect-error carrier must be one of the enum values
    void bus.publish(OrderShipped, { orderId: 'o', carrier: 'fedex' });
    // @ts-expect-error additional properties are not allowed
    void bus.publish(OrderShipped, { orderId: 'o', carrier: 'ups', extra: true });
  });

  it('gives a handler the output type, and a discriminated union for several contracts', () => {
    bus.subscribe(OrderPlaced, { group: 'g' }, (event) => {
      expectTypeOf(event.data.note).toEqualTypeOf<string>();
      expectTypeOf(event.type).toEqualTypeOf<'order.placed'>();
    });
    bus.subscribe([OrderPlaced, OrderShipped], { group: 'g' }, (event) => {
      if (event.type === 'order.shipped') expectTypeOf(event.data.carrier).toEqualTypeOf<'dhl' | 'ups'>();
      else expectTypeOf(event.data.total).toEqualTypeOf<number>();
    });
  });

  it('types key and subject functions of a JSON Schema contract by its data', () => {
    defineEvent({
      type: 'json.keyed',
      schema: {
        type: 'object',
        properties: { orderId: { type: 'string' }, n: { type: 'integer' } },
        required: ['orderId'],
        additionalProperties: false,
      },
      key: (data) => {
        expectTypeOf(data).toEqualTypeOf<{ orderId: string; n?: number }>();
        return data.orderId;
      },
      subject: (data) => String(data.n),
    });
    defineEvent({
      type: 'json.badkey',
      schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
      // @ts-expect-error the data has no such property
      key: (data) => data.nope,
    });
  });

  it('types the key function by the parsed data', () => {
    defineEvent({
      type: 'keyed',
      schema: z.object({ id: z.string() }),
      key: (data) => {
        expectTypeOf(data).toEqualTypeOf<{ id: string }>();
        return data.id;
      },
    });
  });
});

describe('a JSON Schema contract with enum and a key function', () => {
  it('infers the enum and types the key function', () => {
    const Shipped = defineEvent({
      type: 'order.shipped',
      schema: {
        type: 'object',
        properties: { orderId: { type: 'string' }, carrier: { type: 'string', enum: ['dhl', 'ups'] } },
        required: ['orderId', 'carrier'],
        additionalProperties: false,
      },
      key: (data) => data.orderId,
    });
    expectTypeOf<EventData<typeof Shipped>>().toEqualTypeOf<{ orderId: string; carrier: 'dhl' | 'ups' }>();
  });
});
