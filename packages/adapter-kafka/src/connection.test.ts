import { EventEmitter } from 'node:events';
import net from 'node:net';
import { type ConnectionState, createRedactor } from '@tidings/core/adapter';
import { describe, expect, it, vi } from 'vitest';
import { monitoredSocketFactory } from './client/kafkajs/client';
import { ConnectionMonitor, type InstrumentedClient } from './connection';

/** A stand-in for a kafkajs client: its network events, fired by the test. */
class FakeClient implements InstrumentedClient {
  readonly events = { REQUEST: 'request', REQUEST_TIMEOUT: 'request_timeout' };
  readonly emitter = new EventEmitter();
  on(event: string, listener: (event: { payload: object }) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }
  answer(sentAt = Date.now()): void {
    this.emitter.emit('request', { payload: { broker: 'b:1', sentAt } });
  }
}

function recorder(monitor: ConnectionMonitor) {
  const seen: [ConnectionState, string | undefined][] = [];
  monitor.onStateChange((state, error) => seen.push([state, error?.message]));
  return seen;
}

describe('kafka connection monitor', () => {
  it('reports a lost connection once, and its return on the next answer to a request sent since', () => {
    const monitor = new ConnectionMonitor(createRedactor(['s3cret']));
    const client = new FakeClient();
    monitor.watch(client);
    const seen = recorder(monitor);
    monitor.lost(new Error('before connecting: ignored'));
    monitor.set('connecting');
    monitor.set('connected');
    // Answers are not listened to while connected.
    expect(client.emitter.listenerCount('request')).toBe(0);
    monitor.lost(new Error('reset by s3cret'));
    monitor.lost(new Error('refused'));
    expect(client.emitter.listenerCount('request')).toBe(1);
    client.answer(0);
    expect(monitor.state).toBe('reconnecting');
    client.answer();
    expect(monitor.state).toBe('connected');
    expect(client.emitter.listenerCount('request')).toBe(0);
    expect(seen).toEqual([
      ['connecting', undefined],
      ['connected', undefined],
      ['reconnecting', 'reset by ***'],
      ['connected', undefined],
    ]);
  });

  it('takes a request timeout for a loss, and a client watched while reconnecting for a witness', () => {
    const monitor = new ConnectionMonitor(createRedactor());
    monitor.set('connected');
    const first = new FakeClient();
    monitor.watch(first);
    first.emitter.emit('request_timeout', { payload: { broker: 'b:1', apiName: 'Fetch' } });
    expect(monitor.state).toBe('reconnecting');
    const second = new FakeClient();
    const unwatch = monitor.watch(second);
    second.answer();
    expect(monitor.state).toBe('connected');
    unwatch();
    expect(second.emitter.listenerCount('request_timeout')).toBe(0);
  });

  it('sees a refused socket, and reports nothing but closed once stopped', async () => {
    const monitor = new ConnectionMonitor(createRedactor());
    monitor.set('connected');
    const seen = recorder(monitor);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const socket = monitoredSocketFactory(
      monitor,
      undefined,
    )({
      host: '127.0.0.1',
      port,
      ssl: {},
      onConnect: () => undefined,
    });
    await new Promise((resolve) => socket.once('close', resolve));
    expect(seen[0]?.[0]).toBe('reconnecting');
    expect(seen[0]?.[1]).toMatch(/ECONNREFUSED/);
    monitor.stop();
    monitor.set('connected');
    monitor.set('closed');
    expect(seen.map(([state]) => state)).toEqual(['reconnecting', 'closed']);
  });

  it('asks the cluster now and then while reconnecting, so that an idle adapter learns it is back', async () => {
    vi.useFakeTimers();
    try {
      let probes = 0;
      const monitor = new ConnectionMonitor(createRedactor(), async () => {
        probes++;
        if (probes < 3) throw new Error('still down');
      });
      monitor.set('connected');
      monitor.lost(new Error('reset'));
      await vi.advanceTimersByTimeAsync(500 + 1_000);
      expect(monitor.state).toBe('reconnecting');
      await vi.advanceTimersByTimeAsync(2_000);
      expect(probes).toBe(3);
      expect(monitor.state).toBe('connected');
      await vi.advanceTimersByTimeAsync(60_000);
      expect(probes).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
