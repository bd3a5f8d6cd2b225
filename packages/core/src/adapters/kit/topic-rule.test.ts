import { describe, expect, it } from 'vitest';
import { ANY_TOPIC, topicProblem } from './topic-rule';

const KAFKA_LIKE = { pattern: '^(?!\\.{1,2}$)[A-Za-z0-9._-]+$', maxBytes: 249, description: 'Kafka names' };

describe('topicProblem', () => {
  it('accepts what the rule accepts', () => {
    expect(topicProblem(KAFKA_LIKE, 'order.placed')).toBeUndefined();
    expect(topicProblem(ANY_TOPIC, 'commande été #1 *')).toBeUndefined();
    // Twice: the second answer comes from the remembered names.
    expect(topicProblem(KAFKA_LIKE, 'order.placed')).toBeUndefined();
  });

  it.each([
    [KAFKA_LIKE, '', /must not be empty/],
    [KAFKA_LIKE, 'a'.repeat(250), /250 bytes long; the limit is 249/],
    [KAFKA_LIKE, 'has space', /not a valid name here: Kafka names/],
    [KAFKA_LIKE, '..', /not a valid name here/],
    [ANY_TOPIC, '', /must not be empty/],
    [ANY_TOPIC, 'line\nbreak', /control characters/],
    [ANY_TOPIC, 'é'.repeat(600), /1200 bytes long/],
  ])('refuses %#', (rule, topic, message) => {
    expect(topicProblem(rule, topic)).toMatch(message);
  });

  it('refuses what is not a string', () => {
    expect(topicProblem(ANY_TOPIC, 42)).toMatch(/must be a string, got number/);
  });
});
