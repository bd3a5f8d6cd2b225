import { LogCapture } from '@tidings/conformance';
import { createBus, defineEvent } from '@tidings/core';
import type { ConnectionState } from '@tidings/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStreamsAdapter } from '../src';
import { PrivateRedis } from './private-server';
import { waitUntil } from './wait';

const Ping = defineEvent({
  type: 'test.ping',
  schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } as const,
});

describe('connection state', () => {
  let server: PrivateRedis | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('is reported when the server restarts: the bus logs the connection lost, then restored', async () => {
    server = await PrivateRedis.start();
    const logs = new LogCapture();
    const adapter = createRedisStreamsAdapter({ connection: server.url });
    const states: ConnectionState[] = [];
    adapter.onStateChange((state) => states.push(state));
    const bus = createBus({ source: 'state-test', adapter, logger: logs });
    const handled: number[] = [];
    bus.subscribe(Ping, { group: 'g', startFrom: 'earliest' }, (event) => {
      handled.push(event.data.n);
    });
    try {
      await bus.start();
      await bus.publish(Ping, { n: 1 });
      await waitUntil(() => handled.includes(1), 10_000, 'the first event is handled');

      await server.crash();
      await logs.until(/^redis connection lost; reconnecting$/, 10_000);
      expect(adapter.state).toBe('reconnecting');
      await server.restart();
      await logs.until(/^redis connection restored$/, 15_000);
      expect(adapter.state).toBe('connected');
      // Once per outage, however many attempts ioredis made meanwhile.
      expect(logs.matching(/^redis connection lost; reconnecting$/).map((line) => line.level)).toEqual([
        'warn',
      ]);
      await bus.publish(Ping, { n: 2 });
      await waitUntil(() => handled.includes(2), 10_000, 'an event after the restart is handled');
    } finally {
      await bus.stop();
    }
    expect(states[0]).toBe('connecting');
    expect(states.slice(1, 4)).toEqual(['connected', 'reconnecting', 'connected']);
    expect(states.at(-1)).toBe('closed');
    expect(logs.matching(/^redis connection failed$/)).toEqual([]);
  });
});
