import type { Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { idOf, isLetterId, letterId, letterOf } from './letters';

function message(headers: Record<string, unknown>, body = 'body', messageId = 'm-1'): Message {
  return {
    content: Buffer.from(body),
    fields: {
      deliveryTag: 1,
      redelivered: true,
      exchange: 'tidings',
      routingKey: 'order.placed.billing.dlq',
    },
    properties: { headers, messageId, contentType: 'application/json' },
  } as unknown as Message;
}

describe('letterId', () => {
  it('grows strictly within a process, even in one millisecond and when the clock steps back', () => {
    const ids = [letterId(2_000), letterId(2_000), letterId(2_000), letterId(1_000), letterId(2_001)];
    for (let i = 1; i < ids.length; i++)
      expect(ids[i]! > ids[i - 1]!, `${ids[i]} after ${ids[i - 1]}`).toBe(true);
    expect(ids.every(isLetterId)).toBe(true);
    expect(ids[0]).toMatch(/^0000000002000-000000-/);
  });

  it('sorts as strings in time order across lengths of time', () => {
    expect(letterId(Date.UTC(2026, 0, 1)) < letterId(Date.UTC(2027, 0, 1))).toBe(true);
  });
});

describe('idOf and letterOf', () => {
  it('read the stamp, and hide it and the key header from the letter', () => {
    const id = letterId();
    const letter = letterOf(
      message({
        'tidings-letter-id': id,
        'tidings-key': 'order-7',
        'tidings-dlq-reason': 'Error: no',
        'x-delivery-count': 3,
      }),
      'tidings/billing/order.placed.billing.dlq',
    );
    expect(letter.id).toBe(id);
    expect(letter.key).toBe('order-7');
    expect(letter.headers).toEqual({ 'tidings-dlq-reason': 'Error: no', 'content-type': 'application/json' });
    expect(Buffer.from(letter.body).toString()).toBe('body');
  });

  it('give a letter without a stamp a stable id from its failure time and content', () => {
    const headers = { 'tidings-dlq-last-failure-at': '2026-12-01T10:00:00.000Z' };
    const id = idOf(message(headers));
    expect(id).toBe(idOf(message(headers)));
    expect(id).toMatch(new RegExp(`^${Date.parse(headers['tidings-dlq-last-failure-at'])}-~[0-9a-f]{24}$`));
    expect(isLetterId(id)).toBe(true);
    expect(idOf(message(headers, 'other body'))).not.toBe(id);
    expect(idOf(message({}))).toMatch(/^0000000000000-~/);
  });

  it('refuse what is no id of theirs as a cursor', () => {
    for (const text of ['', '999999999999-0', '1764583200000-0', 'abc'])
      expect(isLetterId(text), text).toBe(false);
  });
});
