import { describe, expect, it } from 'vitest';
import { delayLevelName, groupRegistryName, MAX_NAME_BYTES, workQueueName } from './names';

describe('workQueueName', () => {
  it('is readable, deterministic and distinct per group', () => {
    expect(workQueueName('tidings', 'billing', 'order.placed')).toBe('tidings/billing/order.placed');
    expect(workQueueName('tidings', 'billing', 'order.placed')).toBe(
      workQueueName('tidings', 'billing', 'order.placed'),
    );
    expect(workQueueName('tidings', 'email', 'order.placed')).not.toBe(
      workQueueName('tidings', 'billing', 'order.placed'),
    );
  });

  it('keeps groups with a slash apart from topics with one', () => {
    const a = workQueueName('tidings', 'a/b', 'c');
    const b = workQueueName('tidings', 'a', 'b/c');
    expect(a).not.toBe(b);
    expect(b).toBe('tidings/a/b/c');
    expect(a).toMatch(/^tidings\/a\/b\/c~[0-9a-f]{16}$/);
  });

  it('shortens long names to 255 bytes of valid UTF-8, keeping them distinct', () => {
    const topic = `${'żółw-🐢'.repeat(30)}`;
    const one = workQueueName('tidings', 'g', `${topic}1`);
    const two = workQueueName('tidings', 'g', `${topic}2`);
    expect(one).not.toBe(two);
    for (const name of [one, two]) {
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_NAME_BYTES);
      expect(Buffer.from(name).toString('utf8')).toBe(name);
      expect(name.startsWith('tidings/g/żółw')).toBe(true);
    }
  });

  it('keeps every name it derives within an AMQP short string, whatever the group and topic', () => {
    // The longest exchange the options take, a topic as long as the topic rule allows, a group of
    // any length: work queues, dead-letter queues and delay levels all fit 255 bytes.
    const exchange = 'e'.repeat(200);
    const topic = '€'.repeat(66);
    const group = 'g'.repeat(1_000);
    const names = [
      workQueueName(exchange, group, topic),
      workQueueName(exchange, group, `${topic}.${group}.dlq`),
      delayLevelName(exchange, 100 * 2 ** 25),
    ];
    for (const name of names) expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_NAME_BYTES);
  });

  it('names delay levels apart from every work queue', () => {
    expect(delayLevelName('tidings', 400)).toBe('tidings.delay.400ms');
    expect(delayLevelName('tidings', 400).startsWith('tidings/')).toBe(false);
  });
});

describe('groupRegistryName', () => {
  it('is apart from the work queues and fits AMQP when the topic is long', () => {
    expect(groupRegistryName('tidings', 'order.placed')).toBe('tidings.groups/order.placed');
    expect(groupRegistryName('tidings', 'order.placed').startsWith('tidings/')).toBe(false);
    const long = groupRegistryName('tidings', 'x'.repeat(300));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(long).not.toBe(groupRegistryName('tidings', `${'x'.repeat(299)}y`));
  });
});
