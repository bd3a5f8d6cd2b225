import { defineEvent } from '@tidings/core';
import { topicProblem } from '@tidings/core/adapter';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { kafkaCapabilities } from './adapter';
import { kafkaTopicNamer, topicNameProblem } from './topics';

describe('Kafka topic names', () => {
  it('accepts what Kafka accepts and says what is wrong otherwise', () => {
    expect(topicNameProblem('orders.placed_v2-eu')).toBeUndefined();
    expect(topicNameProblem('')).toMatch(/non-empty/);
    expect(topicNameProblem('..')).toMatch(/not a legal/);
    expect(topicNameProblem('żółw')).toMatch(/characters Kafka does not allow/);
    expect(topicNameProblem('a b')).toMatch(/characters/);
    expect(topicNameProblem('x'.repeat(250))).toMatch(/249/);
  });

  it('is the rule the adapter declares, so that the bus and the adapter refuse the same names', () => {
    const names = [
      '',
      '.',
      '..',
      '...',
      'a',
      'a.b_c-D9',
      'a b',
      'é',
      'tab\t',
      'x'.repeat(249),
      'x'.repeat(250),
    ];
    for (const name of names) {
      const declared = topicProblem(kafkaCapabilities.topicRule, name) === undefined;
      expect(topicNameProblem(name) === undefined, JSON.stringify(name)).toBe(declared);
    }
  });

  it('maps contracts to topics with a prefix and, if asked, the version', () => {
    const OrderPlaced = defineEvent({
      type: 'order.placed',
      version: 2,
      schema: z.object({ id: z.string() }),
    });
    const Routed = defineEvent({
      type: 'order.shipped',
      topic: 'shipping',
      schema: z.object({ id: z.string() }),
    });
    expect(kafkaTopicNamer()(OrderPlaced)).toBe('order.placed');
    expect(kafkaTopicNamer({ prefix: 'shop.', versioned: true })(OrderPlaced)).toBe('shop.order.placed.v2');
    expect(kafkaTopicNamer({ prefix: 'shop.' })(Routed)).toBe('shop.shipping');
    const Bad = defineEvent({ type: 'zamówienie.złożone', schema: z.object({ id: z.string() }) });
    expect(() => kafkaTopicNamer()(Bad)).toThrow(/contract "zamówienie.złożone"/);
  });
});
