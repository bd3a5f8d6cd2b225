import { configRefusal } from '@tidings/conformance';
import { describe, expect, it } from 'vitest';
import { createNatsAdapter, createNatsCoreAdapter } from './index';

describe('unknown option names', () => {
  it('are a ConfigError naming the field, with the nearest known name', () => {
    const servers = 'nats://127.0.0.1:4222';
    // @ts-expect-error a typo, as JavaScript or a spread object would pass it
    expect(configRefusal(() => createNatsAdapter({ servers, ackWait: 1_000 }))).toMatch(
      /^ackWait: .*did you mean "ackWaitMs"/,
    );
    // @ts-expect-error idem
    expect(configRefusal(() => createNatsAdapter({ servers, stream: { maxAge: 1 } }))).toMatch(
      /^stream.maxAge: .*"maxAgeMs"/,
    );
    // @ts-expect-error idem
    expect(configRefusal(() => createNatsCoreAdapter({ servers, maxBufferedRecord: 1 }))).toMatch(
      /^maxBufferedRecord: .*"maxBufferedRecords"/,
    );
    // @ts-expect-error the core-NATS adapter has no stream
    expect(configRefusal(() => createNatsCoreAdapter({ servers, stream: {} }))).toMatch(/^stream: /);
    // nats.js's own configuration passes through unchecked.
    expect(() =>
      createNatsAdapter({ servers, connectionOptions: { name: 'x', maxReconnectAttempts: 1 } }),
    ).not.toThrow();
  });
});
