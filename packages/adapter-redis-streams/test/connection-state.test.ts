import { createBus, defineEvent, type Logger } from '@tidings/core';
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
    const lines: { level: string; message: string }[] = [];
    const log =
      (level: string): Logger['info'] =>
      (_fields, message) =>
        lines.push({ level, message });
    const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    const adapter = createRedisStreamsAdapter({ connection: server.url });
    const states: ConnectionState[] = [];
    adapter.onStateChange((state) => states.push(state));
    const bus = createBus({ source: 'state-test', adapter, logger });
    const handled: number[] = [];
    bus.subscribe(Ping, { group: 'g', startFrom: 'earliest' }, (event) => {
      handled.push(event.data.n);
    });
    try {
      await bus.start();
      await bus.publish(Ping, { n: 1 });
      await waitUntil(() => handled.includes(1), 10_000, 'the first event is handled');

      await server.crash();
      await waitUntil(
        () => lines.some((line) => line.message === 'redis connection lost; reconnecting'),
        10_000,
        'the bus logs the connection lost',
      );
      expect(adapter.state).toBe('reconnecting');
      await server.restart();
      await waitUntil(
        () => lines.some((line) => line.message === 'redis connection restored'),
        15_000,
        'the bus logs the connection restored',
      );
      expect(adapter.state).toBe('connected');
      // Once per outage, however many attempts ioredis made meanwhile.
      expect(lines.filter((line) => line.message === 'redis connection lost; reconnecting')).toEqual([
        { level: 'warn', message: 'redis connection lost; reconnecting' },
      ]);
      await bus.publish(Ping, { n: 2 });
      await waitUntil(() => handled.includes(2), 10_000, 'an event after the restart is handled');
    } finally {
      await bus.stop();
    }
    expect(states[0]).toBe('connecting');
    expect(states.slice(1, 4)).toEqual(['connected', 'reconnecting', 'connected']);
    expect(states.at(-1)).toBe('closed');
    expect(lines.some((line) => line.message === 'redis connection failed')).toBe(false);
  });
});
