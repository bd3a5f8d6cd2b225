import { describe, expect, it } from 'vitest';
import { connectFields, NodeRotation } from './nodes';

describe('connectFields', () => {
  it('reads a URL as amqplib does: host, port, login, escaped vhost, tuning parameters', () => {
    expect(
      connectFields(
        'amqps://app:p%40ss@[::1]:5671/shop%2Feu?heartbeat=5&frameMax=8192&channelMax=7&locale=en_US',
      ),
    ).toEqual({
      protocol: 'amqps',
      hostname: '::1',
      port: 5671,
      username: 'app',
      password: 'p@ss',
      // amqplib unescapes the vhost of both a URL and an object: it stays escaped here.
      vhost: 'shop%2Feu',
      heartbeat: 5,
      frameMax: 8192,
      channelMax: 7,
      locale: 'en_US',
    });
  });

  it('leaves out what the URL does not say, so that amqplib applies its defaults (guest, port, vhost /)', () => {
    expect(connectFields('amqp://rabbit-1')).toEqual({ protocol: 'amqp', hostname: 'rabbit-1' });
    expect(connectFields('amqp://rabbit-1/')).toEqual({ protocol: 'amqp', hostname: 'rabbit-1' });
  });

  it('passes connection objects through', () => {
    const fields = { hostname: 'rabbit-2', port: 5673 };
    expect(connectFields(fields)).toBe(fields);
  });
});

describe('NodeRotation', () => {
  const reconnect = { initialDelayMs: 100, maxDelayMs: 2_000 };

  it('moves to the next node before each attempt, round robin, and its target reads the current one', () => {
    const nodes = new NodeRotation(
      ['amqp://a:5672', 'amqp://b:5673', { hostname: 'c', port: 5674 }],
      reconnect,
    );
    const seen = [nodes.target.hostname];
    for (let attempt = 1; attempt <= 4; attempt++) {
      nodes.delayBefore(attempt);
      seen.push(nodes.target.hostname);
    }
    expect(seen).toEqual(['a', 'b', 'c', 'a', 'b']);
    expect(nodes.target.port).toBe(5673);
    expect(nodes.currentAddress).toBe('amqp://b:5673');
    // What amqplib's connect() looks at in an object: typeof and the fields.
    expect(typeof nodes.target).toBe('object');
    expect({ ...nodes.target }).toEqual({ protocol: 'amqp', hostname: 'b', port: 5673 });
  });

  it('waits the initial delay between nodes of the first round, doubling after each full round, capped', () => {
    const nodes = new NodeRotation(['amqp://a', 'amqp://b'], reconnect);
    const within = (value: number, base: number) => {
      expect(value).toBeGreaterThanOrEqual(Math.floor(base * 0.8));
      expect(value).toBeLessThanOrEqual(Math.ceil(base * 1.2));
    };
    within(nodes.delayBefore(1), 100);
    within(nodes.delayBefore(2), 100);
    within(nodes.delayBefore(3), 200);
    within(nodes.delayBefore(4), 200);
    within(nodes.delayBefore(5), 400);
    for (let attempt = 6; attempt < 40; attempt++)
      expect(nodes.delayBefore(attempt)).toBeLessThanOrEqual(2_000);
  });
});
