import { afterEach, describe, expect, it, vi } from 'vitest';
import { OrderPlaced, order } from '../../test/support/contracts';
import { delegatingAdapter } from '../../test/support/delegating-adapter';
import { recordingLogger } from '../../test/support/logger';
import { createTestSdk, useAsyncContext } from '../../test/support/otel';
import type { ConnectionState } from '../adapters/contract';
import { createMemoryAdapter } from '../adapters/memory/adapter';
import type { ConnectionStateReporter } from '../adapters/optional';
import { createBus } from '../bus/bus';
import { ConfigError } from '../errors';
import { createTestBus } from '../testing/harness';
import type { Logger } from './logger';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
  vi.restoreAllMocks();
});

describe('logger', () => {
  it('logs a retry and a dead letter with the correlation fields of the event', async () => {
    const logger = recordingLogger();
    const bus = createTestBus({ logger });
    stops.push(() => bus.stop());
    bus.subscribe(
      OrderPlaced,
      { group: 'email', retry: { maxAttempts: 2, initialDelayMs: 3, jitter: 0 } },
      () => {
        throw new Error('mailer down');
      },
    );
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o-1'));
    await bus.waitFor({ id, outcome: 'deadLettered' });

    const correlation = { eventId: id, eventType: 'order.placed', group: 'email', topic: 'order.placed' };
    const retry = logger.lines.find((line) => line.level === 'warn');
    expect(retry?.message).toBe('handler failed (attempt 1 of 2); retrying in 3 ms');
    expect(retry?.fields).toMatchObject({ ...correlation, attempt: 1, delayMs: 3 });
    expect(retry?.fields.err).toMatchObject({ message: 'mailer down' });
    const dead = logger.lines.find((line) => line.level === 'error');
    expect(dead?.message).toBe('event dead-lettered to order.placed.email.dlq: Error: mailer down');
    expect(dead?.fields).toMatchObject({
      ...correlation,
      attempt: 2,
      deadLetterTopic: 'order.placed.email.dlq',
      reason: 'Error: mailer down',
    });
    expect(logger.lines.map((line) => line.message)).toContain('bus started on memory');
  });

  it('names the event of a record that could not be decoded from its headers', async () => {
    const logger = recordingLogger();
    const bus = createTestBus({ logger });
    stops.push(() => bus.stop());
    bus.subscribe(OrderPlaced, { group: 'g' }, () => undefined);
    await bus.start();
    await bus.adapter.publish([
      {
        topic: 'order.placed',
        key: undefined,
        headers: { ce_id: 'bad-1', ce_type: 'order.placed', ce_specversion: '1.0', ce_source: 'x' },
        body: new TextEncoder().encode('{not json'),
      },
    ]);
    await bus.waitFor({ group: 'g', outcome: 'deadLettered' });
    expect(logger.lines.find((line) => line.level === 'error')?.fields).toMatchObject({
      eventId: 'bad-1',
      eventType: 'order.placed',
    });
  });

  it('puts the trace id on the lines when tracing is on', async () => {
    const restore = useAsyncContext();
    const sdk = createTestSdk();
    stops.push(async () => {
      await sdk.shutdown();
      restore();
    });
    const logger = recordingLogger();
    const bus = createTestBus({ logger, telemetry: { tracerProvider: sdk.tracerProvider } });
    stops.push(() => bus.stop());
    bus.subscribe(OrderPlaced, { group: 'g', retry: false }, () => {
      throw new Error('no');
    });
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o'));
    await bus.waitFor({ id, outcome: 'deadLettered' });
    const line = logger.lines.find((l) => l.level === 'error');
    const span = sdk.span('process order.placed');
    expect(line?.fields).toMatchObject({
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
    });
  });

  it('logs the events a drain timeout abandons', async () => {
    const logger = recordingLogger();
    const bus = createTestBus({ logger, drainTimeoutMs: 20 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    bus.subscribe(OrderPlaced, { group: 'slow' }, async () => {
      started();
      await released;
    });
    await bus.start();
    const { id } = await bus.publish(OrderPlaced, order('o'));
    await running;
    await bus.stop();
    release();
    const line = logger.lines.find((l) => l.level === 'warn');
    expect(line?.message).toMatch(/^drain timed out after 20 ms/);
    expect(line?.fields).toMatchObject({ eventId: id, eventType: 'order.placed', group: 'slow', attempt: 1 });
    expect(logger.lines.at(-1)?.message).toBe('bus stopped');
  });

  it('logs connection state changes of an adapter that reports them', async () => {
    const logger = recordingLogger();
    const inner = createMemoryAdapter();
    const listeners = new Set<(state: ConnectionState, error?: Error) => void>();
    const adapter = delegatingAdapter(inner, {
      name: 'flaky',
      onStateChange(listener: (state: ConnectionState, error?: Error) => void) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    } satisfies ConnectionStateReporter & { name: string });
    const bus = createBus({ source: 'test', adapter, logger });
    await bus.start();
    for (const listener of listeners) listener('reconnecting', new Error('socket closed'));
    for (const listener of listeners) listener('connected');
    await bus.stop();
    expect(listeners.size).toBe(0);
    const lines = logger.lines.filter((line) => line.fields.state !== undefined);
    expect(lines.map((line) => [line.level, line.message])).toEqual([
      ['warn', 'flaky connection lost; reconnecting'],
      ['info', 'flaky connection restored'],
    ]);
    expect(lines[0]?.fields.err).toMatchObject({ message: 'socket closed' });
  });

  it('is silent by default, and a logger that throws breaks nothing', async () => {
    const spies = (['debug', 'info', 'log', 'warn', 'error'] as const).map((method) =>
      vi.spyOn(console, method).mockImplementation(() => undefined),
    );
    const quiet = createTestBus();
    stops.push(() => quiet.stop());
    quiet.subscribe(OrderPlaced, { group: 'g', retry: false }, () => {
      throw new Error('no');
    });
    await quiet.start();
    await quiet.publish(OrderPlaced, order('o'));
    await quiet.waitFor({ outcome: 'deadLettered' });
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();

    const boom = () => {
      throw new Error('logger is broken');
    };
    const broken = createTestBus({ logger: { debug: boom, info: boom, warn: boom, error: boom } });
    stops.push(() => broken.stop());
    broken.subscribe(OrderPlaced, { group: 'g', retry: false }, () => {
      throw new Error('no');
    });
    await broken.start();
    await broken.publish(OrderPlaced, order('o'));
    await broken.waitFor({ outcome: 'deadLettered' });
  });

  it('takes console as it is, and refuses a logger without the four methods', () => {
    const logger: Logger = console;
    expect(() => createBus({ source: 'test', logger })).not.toThrow();
    // @ts-expect-error: no error method
    expect(() => createBus({ source: 'test', logger: { debug() {}, info() {}, warn() {} } })).toThrow(
      ConfigError,
    );
    expect(() => createBus({ source: 'test', logger: { ...console, warn: 1 } as never })).toThrow(/warn/);
  });
});
